// The API of `genrenet serve`, described where it is served: GET /openapi.json answers this
// OpenAPI 3.0 document (linked from the page's footer). The genre names of the loaded model are
// the enum of every "genre" field, so the document is exact for this server.
#pragma once

#include <string>
#include <vector>

namespace gn {

std::string openapi_json(const std::vector<std::string>& labels, long long max_upload_bytes);

}  // namespace gn
