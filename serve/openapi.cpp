#include "serve/openapi.h"

#include <nlohmann/json.hpp>

#include "engine/version.h"

namespace gn {

std::string openapi_json(const std::vector<std::string>& labels, long long max_upload_bytes) {
  using J = nlohmann::ordered_json;
  const J genre = {{"type", "string"}, {"enum", labels}};
  J probabilities = {{"type", "object"},
                     {"description", "probability of each genre, most probable first"},
                     {"additionalProperties", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}};
  const J clip = {{"type", "object"},
                  {"required", {"start", "end", "genre", "probabilities"}},
                  {"properties",
                   {{"start", {{"type", "number"}, {"description", "seconds"}}},
                    {"end", {{"type", "number"}, {"description", "seconds"}}},
                    {"genre", genre},
                    {"probabilities", probabilities}}}};
  const J prediction = {
      {"type", "object"},
      {"required", {"file", "genre", "probability", "majority_vote", "probabilities", "clips"}},
      {"properties",
       {{"file", {{"type", "string"}, {"description", "the upload's file name (never a path)"}}},
        {"genre", genre},
        {"probability", {{"type", "number"}, {"description", "mean of the clips' probabilities of that genre"}}},
        {"majority_vote", genre},
        {"probabilities", probabilities},
        {"clips", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/Clip"}}}}}}}};
  const J error = {{"type", "object"},
                   {"required", {"error", "status"}},
                   {"properties", {{"error", {{"type", "string"}}}, {"status", {{"type", "integer"}}}}}};
  auto error_response = [](const char* what) {
    return J{{"description", what},
             {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  };
  const J audio_body = {{"type", "string"}, {"format", "binary"}};
  J doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "GenreNet"},
        {"version", version_string()},
        {"description", "Classifies songs into the genres of the loaded model. Uploads of at most " +
                            std::to_string(max_upload_bytes) + " bytes."}}},
      {"paths",
       {{"/api/predict",
         {{"post",
           {{"summary", "classify one song"},
            {"parameters",
             {{{"name", "name"},
               {"in", "query"},
               {"required", false},
               {"description", "the song's file name, for a raw body (reported back as \"file\")"},
               {"schema", {{"type", "string"}}}}}},
            {"requestBody",
             {{"required", true},
              {"content",
               {{"multipart/form-data",
                 {{"schema", {{"type", "object"}, {"properties", {{"file", audio_body}}}, {"required", {"file"}}}}}},
                {"application/octet-stream", {{"schema", audio_body}}},
                {"audio/*", {{"schema", audio_body}}}}}}},
            {"responses",
             {{"200",
               {{"description", "the prediction"},
                {"content",
                 {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Prediction"}}}}}}}}},
              {"400", error_response("a malformed request (no file, empty body)")},
              {"413", error_response("the upload or the song is longer than the server takes")},
              {"415", error_response("not an audio file GenreNet can read")},
              {"422", error_response("the song is shorter than one clip")}}}}}}},
        {"/api/model",
         {{"get",
           {{"summary", "the loaded model: labels, front-end, clip scheme, configuration"},
            {"responses", {{"200", {{"description", "the model"}, {"content", {{"application/json", J::object()}}}}}}}}}}},
        {"/api/health",
         {{"get",
           {{"summary", "liveness: status, device, model file, uptime"},
            {"responses", {{"200", {{"description", "ok"}, {"content", {{"application/json", J::object()}}}}}}}}}}},
        {"/openapi.json",
         {{"get",
           {{"summary", "this document"},
            {"responses", {{"200", {{"description", "OpenAPI 3 document"}}}}}}}}}}},
      {"components", {{"schemas", {{"Prediction", prediction}, {"Clip", clip}, {"Error", error}}}}}};
  return doc.dump(2) + "\n";
}

}  // namespace gn
