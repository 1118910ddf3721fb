# One throwaway PostgreSQL server for a test run (tests/support/postgres_server.sh), started
# and stopped by ctest fixtures named `postgres`; tests reach it through REIN_TEST_PG_CONNINFO.
# Its directory is named after the build tree, so that build trees do not share one.
string(MD5 _rein_pg_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_rein_pg_hash}" 0 10 _rein_pg_hash)
set(REIN_TEST_PG_DIR "/tmp/rein-pg-${_rein_pg_hash}")
set(REIN_TEST_PG_CONNINFO "host=${REIN_TEST_PG_DIR} port=5432 user=rein dbname=postgres")
set(_rein_pg_script "${PROJECT_SOURCE_DIR}/tests/support/postgres_server.sh")
add_test(NAME postgres.start COMMAND bash ${_rein_pg_script} start ${REIN_TEST_PG_DIR} --fast)
add_test(NAME postgres.stop COMMAND bash ${_rein_pg_script} stop ${REIN_TEST_PG_DIR})
set_tests_properties(postgres.start PROPERTIES FIXTURES_SETUP postgres LABELS postgres)
set_tests_properties(postgres.stop PROPERTIES FIXTURES_CLEANUP postgres LABELS postgres)
