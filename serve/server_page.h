// The page `genrenet serve` answers at "/": serve/page.html, embedded at build time
// (cmake/embed_file.cmake writes it into a generated source as bytes). One self-contained HTML
// document (CSS and JS inline, no CDN, no fonts or images fetched), so it works offline and
// under a strict CSP. It asks GET /api/model for the labels, posts the chosen file to
// POST /api/predict as a multipart upload, plays the file from a blob: URL, and draws the answer
// with inline SVG: a bar per genre and a timeline of the clips (click a clip to hear it).
// Everything taken from a response or a file name is inserted as text, never as HTML.
#pragma once

#include <string_view>

namespace gn {

std::string_view server_page();

}  // namespace gn
