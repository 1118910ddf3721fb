// The published meta-schemas of draft 2020-12 (the dialect and its vocabularies) and draft-07,
// from json-schema.org, so "$ref": "https://json-schema.org/draft/2020-12/schema" (validating a
// schema) works without a resolver. Minified; content as published.
#include "schema/metaschemas.hpp"

namespace rein::detail {
namespace {

struct Builtin {
  std::string_view uri;
  std::string_view text;
};

constexpr Builtin kMetaSchemas[] = {
    {"https://json-schema.org/draft/2020-12/schema",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/core")~"
     R"~(:true,"https://json-schema.org/draft/2020-12/vocab/applicator":true,"https://json-schema)~"
     R"~(.org/draft/2020-12/vocab/unevaluated":true,"https://json-schema.org/draft/2020-12/vocab/)~"
     R"~(validation":true,"https://json-schema.org/draft/2020-12/vocab/meta-data":true,"https://j)~"
     R"~(son-schema.org/draft/2020-12/vocab/format-annotation":true,"https://json-schema.org/draf)~"
     R"~(t/2020-12/vocab/content":true},"$dynamicAnchor":"meta","title":"Core and Validation spec)~"
     R"~(ifications meta-schema","allOf":[{"$ref":"meta/core"},{"$ref":"meta/applicator"},{"$ref")~"
     R"~(:"meta/unevaluated"},{"$ref":"meta/validation"},{"$ref":"meta/meta-data"},{"$ref":"meta/)~"
     R"~(format-annotation"},{"$ref":"meta/content"}],"type":["object","boolean"],"$comment":"Thi)~"
     R"~(s meta-schema also defines keywords that have appeared in previous drafts in order to pr)~"
     R"~(event incompatible extensions as they remain in common use.","properties":{"definitions")~"
     R"~(:{"$comment":"\"definitions\" has been replaced by \"$defs\".","type":"object","addition)~"
     R"~(alProperties":{"$dynamicRef":"#meta"},"deprecated":true,"default":{}},"dependencies":{"$)~"
     R"~(comment":"\"dependencies\" has been split and replaced by \"dependentSchemas\" and \"dep)~"
     R"~(endentRequired\" in order to serve their differing semantics.","type":"object","addition)~"
     R"~(alProperties":{"anyOf":[{"$dynamicRef":"#meta"},{"$ref":"meta/validation#/$defs/stringAr)~"
     R"~(ray"}]},"deprecated":true,"default":{}},"$recursiveAnchor":{"$comment":"\"$recursiveAnch)~"
     R"~(or\" has been replaced by \"$dynamicAnchor\".","$ref":"meta/core#/$defs/anchorString","d)~"
     R"~(eprecated":true},"$recursiveRef":{"$comment":"\"$recursiveRef\" has been replaced by \"$)~"
     R"~(dynamicRef\".","$ref":"meta/core#/$defs/uriReferenceString","deprecated":true}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/core",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/core","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/co)~"
     R"~(re":true},"$dynamicAnchor":"meta","title":"Core vocabulary meta-schema","type":["object")~"
     R"~(,"boolean"],"properties":{"$id":{"$ref":"#/$defs/uriReferenceString","$comment":"Non-emp)~"
     R"~(ty fragments not allowed.","pattern":"^[^#]*#?$"},"$schema":{"$ref":"#/$defs/uriString"})~"
     R"~(,"$ref":{"$ref":"#/$defs/uriReferenceString"},"$anchor":{"$ref":"#/$defs/anchorString"},)~"
     R"~("$dynamicRef":{"$ref":"#/$defs/uriReferenceString"},"$dynamicAnchor":{"$ref":"#/$defs/an)~"
     R"~(chorString"},"$vocabulary":{"type":"object","propertyNames":{"$ref":"#/$defs/uriString"})~"
     R"~(,"additionalProperties":{"type":"boolean"}},"$comment":{"type":"string"},"$defs":{"type")~"
     R"~(:"object","additionalProperties":{"$dynamicRef":"#meta"}}},"$defs":{"anchorString":{"typ)~"
     R"~(e":"string","pattern":"^[A-Za-z_][-A-Za-z0-9._]*$"},"uriString":{"type":"string","format)~"
     R"~(":"uri"},"uriReferenceString":{"type":"string","format":"uri-reference"}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/applicator",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/applicator","$vocabulary":{"https://json-schema.org/draft/2020-12/vo)~"
     R"~(cab/applicator":true},"$dynamicAnchor":"meta","title":"Applicator vocabulary meta-schema)~"
     R"~(","type":["object","boolean"],"properties":{"prefixItems":{"$ref":"#/$defs/schemaArray"})~"
     R"~(,"items":{"$dynamicRef":"#meta"},"contains":{"$dynamicRef":"#meta"},"additionalPropertie)~"
     R"~(s":{"$dynamicRef":"#meta"},"properties":{"type":"object","additionalProperties":{"$dynam)~"
     R"~(icRef":"#meta"},"default":{}},"patternProperties":{"type":"object","additionalProperties)~"
     R"~(":{"$dynamicRef":"#meta"},"propertyNames":{"format":"regex"},"default":{}},"dependentSch)~"
     R"~(emas":{"type":"object","additionalProperties":{"$dynamicRef":"#meta"},"default":{}},"pro)~"
     R"~(pertyNames":{"$dynamicRef":"#meta"},"if":{"$dynamicRef":"#meta"},"then":{"$dynamicRef":")~"
     R"~(#meta"},"else":{"$dynamicRef":"#meta"},"allOf":{"$ref":"#/$defs/schemaArray"},"anyOf":{")~"
     R"~($ref":"#/$defs/schemaArray"},"oneOf":{"$ref":"#/$defs/schemaArray"},"not":{"$dynamicRef")~"
     R"~(:"#meta"}},"$defs":{"schemaArray":{"type":"array","minItems":1,"items":{"$dynamicRef":"#)~"
     R"~(meta"}}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/unevaluated",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/unevaluated","$vocabulary":{"https://json-schema.org/draft/2020-12/v)~"
     R"~(ocab/unevaluated":true},"$dynamicAnchor":"meta","title":"Unevaluated applicator vocabula)~"
     R"~(ry meta-schema","type":["object","boolean"],"properties":{"unevaluatedItems":{"$dynamicR)~"
     R"~(ef":"#meta"},"unevaluatedProperties":{"$dynamicRef":"#meta"}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/validation",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/validation","$vocabulary":{"https://json-schema.org/draft/2020-12/vo)~"
     R"~(cab/validation":true},"$dynamicAnchor":"meta","title":"Validation vocabulary meta-schema)~"
     R"~(","type":["object","boolean"],"properties":{"type":{"anyOf":[{"$ref":"#/$defs/simpleType)~"
     R"~(s"},{"type":"array","items":{"$ref":"#/$defs/simpleTypes"},"minItems":1,"uniqueItems":tr)~"
     R"~(ue}]},"const":true,"enum":{"type":"array","items":true},"multipleOf":{"type":"number","e)~"
     R"~(xclusiveMinimum":0},"maximum":{"type":"number"},"exclusiveMaximum":{"type":"number"},"mi)~"
     R"~(nimum":{"type":"number"},"exclusiveMinimum":{"type":"number"},"maxLength":{"$ref":"#/$de)~"
     R"~(fs/nonNegativeInteger"},"minLength":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"patte)~"
     R"~(rn":{"type":"string","format":"regex"},"maxItems":{"$ref":"#/$defs/nonNegativeInteger"},)~"
     R"~("minItems":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"uniqueItems":{"type":"boolean")~"
     R"~(,"default":false},"maxContains":{"$ref":"#/$defs/nonNegativeInteger"},"minContains":{"$r)~"
     R"~(ef":"#/$defs/nonNegativeInteger","default":1},"maxProperties":{"$ref":"#/$defs/nonNegati)~"
     R"~(veInteger"},"minProperties":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"required":{"$)~"
     R"~(ref":"#/$defs/stringArray"},"dependentRequired":{"type":"object","additionalProperties":)~"
     R"~({"$ref":"#/$defs/stringArray"}}},"$defs":{"nonNegativeInteger":{"type":"integer","minimu)~"
     R"~(m":0},"nonNegativeIntegerDefault0":{"$ref":"#/$defs/nonNegativeInteger","default":0},"si)~"
     R"~(mpleTypes":{"enum":["array","boolean","integer","null","number","object","string"]},"str)~"
     R"~(ingArray":{"type":"array","items":{"type":"string"},"uniqueItems":true,"default":[]}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/meta-data",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/meta-data","$vocabulary":{"https://json-schema.org/draft/2020-12/voc)~"
     R"~(ab/meta-data":true},"$dynamicAnchor":"meta","title":"Meta-data vocabulary meta-schema",")~"
     R"~(type":["object","boolean"],"properties":{"title":{"type":"string"},"description":{"type")~"
     R"~(:"string"},"default":true,"deprecated":{"type":"boolean","default":false},"readOnly":{"t)~"
     R"~(ype":"boolean","default":false},"writeOnly":{"type":"boolean","default":false},"examples)~"
     R"~(":{"type":"array","items":true}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/format-annotation",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/format-annotation","$vocabulary":{"https://json-schema.org/draft/202)~"
     R"~(0-12/vocab/format-annotation":true},"$dynamicAnchor":"meta","title":"Format vocabulary m)~"
     R"~(eta-schema for annotation results","type":["object","boolean"],"properties":{"format":{")~"
     R"~(type":"string"}}})~"},
    {"https://json-schema.org/draft/2020-12/meta/content",

     R"~({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org)~"
     R"~(/draft/2020-12/meta/content","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab)~"
     R"~(/content":true},"$dynamicAnchor":"meta","title":"Content vocabulary meta-schema","type":)~"
     R"~(["object","boolean"],"properties":{"contentEncoding":{"type":"string"},"contentMediaType)~"
     R"~(":{"type":"string"},"contentSchema":{"$dynamicRef":"#meta"}}})~"},
    {"http://json-schema.org/draft-07/schema",

     R"~({"$schema":"http://json-schema.org/draft-07/schema#","$id":"http://json-schema.org/draft)~"
     R"~(-07/schema#","title":"Core schema meta-schema","definitions":{"schemaArray":{"type":"arr)~"
     R"~(ay","minItems":1,"items":{"$ref":"#"}},"nonNegativeInteger":{"type":"integer","minimum":)~"
     R"~(0},"nonNegativeIntegerDefault0":{"allOf":[{"$ref":"#/definitions/nonNegativeInteger"},{")~"
     R"~(default":0}]},"simpleTypes":{"enum":["array","boolean","integer","null","number","object)~"
     R"~(","string"]},"stringArray":{"type":"array","items":{"type":"string"},"uniqueItems":true,)~"
     R"~("default":[]}},"type":["object","boolean"],"properties":{"$id":{"type":"string","format")~"
     R"~(:"uri-reference"},"$schema":{"type":"string","format":"uri"},"$ref":{"type":"string","fo)~"
     R"~(rmat":"uri-reference"},"$comment":{"type":"string"},"title":{"type":"string"},"descripti)~"
     R"~(on":{"type":"string"},"default":true,"readOnly":{"type":"boolean","default":false},"exam)~"
     R"~(ples":{"type":"array","items":true},"multipleOf":{"type":"number","exclusiveMinimum":0},)~"
     R"~("maximum":{"type":"number"},"exclusiveMaximum":{"type":"number"},"minimum":{"type":"numb)~"
     R"~(er"},"exclusiveMinimum":{"type":"number"},"maxLength":{"$ref":"#/definitions/nonNegative)~"
     R"~(Integer"},"minLength":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"pattern":{"ty)~"
     R"~(pe":"string","format":"regex"},"additionalItems":{"$ref":"#"},"items":{"anyOf":[{"$ref":)~"
     R"~("#"},{"$ref":"#/definitions/schemaArray"}],"default":true},"maxItems":{"$ref":"#/definit)~"
     R"~(ions/nonNegativeInteger"},"minItems":{"$ref":"#/definitions/nonNegativeIntegerDefault0"})~"
     R"~(,"uniqueItems":{"type":"boolean","default":false},"contains":{"$ref":"#"},"maxProperties)~"
     R"~(":{"$ref":"#/definitions/nonNegativeInteger"},"minProperties":{"$ref":"#/definitions/non)~"
     R"~(NegativeIntegerDefault0"},"required":{"$ref":"#/definitions/stringArray"},"additionalPro)~"
     R"~(perties":{"$ref":"#"},"definitions":{"type":"object","additionalProperties":{"$ref":"#"})~"
     R"~(,"default":{}},"properties":{"type":"object","additionalProperties":{"$ref":"#"},"defaul)~"
     R"~(t":{}},"patternProperties":{"type":"object","additionalProperties":{"$ref":"#"},"propert)~"
     R"~(yNames":{"format":"regex"},"default":{}},"dependencies":{"type":"object","additionalProp)~"
     R"~(erties":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/stringArray"}]}},"propertyNames":{)~"
     R"~("$ref":"#"},"const":true,"enum":{"type":"array","items":true},"type":{"anyOf":[{"$ref":")~"
     R"~(#/definitions/simpleTypes"},{"type":"array","items":{"$ref":"#/definitions/simpleTypes"})~"
     R"~(,"minItems":1,"uniqueItems":true}]},"format":{"type":"string"},"contentMediaType":{"type)~"
     R"~(":"string"},"contentEncoding":{"type":"string"},"if":{"$ref":"#"},"then":{"$ref":"#"},"e)~"
     R"~(lse":{"$ref":"#"},"allOf":{"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/defini)~"
     R"~(tions/schemaArray"},"oneOf":{"$ref":"#/definitions/schemaArray"},"not":{"$ref":"#"}},"de)~"
     R"~(fault":true})~"},
};

}  // namespace

const std::string_view* builtin_metaschema(std::string_view uri) {
  if (!uri.empty() && uri.back() == '#') uri.remove_suffix(1);
  for (const auto& m : kMetaSchemas) {
    if (m.uri == uri) return &m.text;
  }
  return nullptr;
}

}  // namespace rein::detail
