#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/safetensors.h"

namespace gn {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}
std::string pct(double v) { return fmt("%.1f%%", 100.0 * v); }

// Keeps long genre names from pushing the matrix off the page; the full name is the tooltip.
std::string shorten(const std::string& s, std::size_t max_chars) {
  if (s.size() <= max_chars) return s;
  return s.substr(0, max_chars - 1) + "\u2026";
}

// "Nice" axis steps (1, 2, 5 x 10^k) so ticks land on round numbers.
double nice_step(double range, int target_ticks) {
  if (!(range > 0)) return 1.0;
  const double raw = range / target_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

std::string tick_label(double v, double step) {
  if (step >= 1) return fmt("%.0f", v);
  const int decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char f[16];
  std::snprintf(f, sizeof f, "%%.%df", std::min(decimals, 6));
  return fmt(f, v);
}

struct Series {
  std::string name, color;
  bool dashed;
  std::vector<double> y;  // per epoch; NaN = missing
};

// A line chart of per-epoch series: axes with ticks, grid, labels, a legend and an optional
// marker at the best epoch.
std::string line_chart(const std::string& title, const std::string& y_label, const std::vector<int>& x,
                       const std::vector<Series>& series, bool unit_interval, int best_epoch) {
  const double W = 520, H = 316, ml = 62, mr = 18, mt = 52, mb = 48;
  const double pw = W - ml - mr, ph = H - mt - mb;
  const int x_min = x.empty() ? 1 : x.front(), x_max = x.empty() ? 1 : std::max(x.back(), x_min + 1);
  double y_min = 0, y_max = 1;
  if (!unit_interval) {
    double hi = 0;
    for (const Series& s : series)
      for (double v : s.y)
        if (std::isfinite(v)) hi = std::max(hi, v);
    y_max = hi > 0 ? hi : 1;
  }
  const double y_step = nice_step(y_max - y_min, 5);
  if (!unit_interval) y_max = std::ceil(y_max / y_step - 1e-9) * y_step;
  const double x_step = std::max(1.0, nice_step(x_max - x_min, 8));
  auto px = [&](double v) { return ml + (v - x_min) / (x_max - x_min) * pw; };
  auto py = [&](double v) { return mt + ph - (v - y_min) / (y_max - y_min) * ph; };

  std::ostringstream o;
  o << "<svg class=\"chart\" viewBox=\"0 0 " << W << " " << H << "\" width=\"" << W << "\" height=\"" << H
    << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">";
  o << "<text x=\"" << ml << "\" y=\"20\" class=\"ctitle\">" << html_escape(title) << "</text>";
  // Grid and y ticks.
  for (double v = y_min; v <= y_max + y_step * 1e-6; v += y_step) {
    o << "<line x1=\"" << ml << "\" x2=\"" << ml + pw << "\" y1=\"" << py(v) << "\" y2=\"" << py(v)
      << "\" class=\"grid\"/>";
    o << "<text x=\"" << ml - 8 << "\" y=\"" << py(v) + 4 << "\" class=\"tick\" text-anchor=\"end\">"
      << (unit_interval ? fmt("%.0f%%", v * 100) : tick_label(v, y_step)) << "</text>";
  }
  // x ticks.
  for (double v = std::ceil(x_min / x_step) * x_step; v <= x_max + 1e-9; v += x_step) {
    o << "<line x1=\"" << px(v) << "\" x2=\"" << px(v) << "\" y1=\"" << mt + ph << "\" y2=\"" << mt + ph + 5
      << "\" class=\"axis\"/>";
    o << "<text x=\"" << px(v) << "\" y=\"" << mt + ph + 19 << "\" class=\"tick\" text-anchor=\"middle\">"
      << fmt("%.0f", v) << "</text>";
  }
  o << "<line x1=\"" << ml << "\" x2=\"" << ml << "\" y1=\"" << mt << "\" y2=\"" << mt + ph << "\" class=\"axis\"/>";
  o << "<line x1=\"" << ml << "\" x2=\"" << ml + pw << "\" y1=\"" << mt + ph << "\" y2=\"" << mt + ph
    << "\" class=\"axis\"/>";
  o << "<text x=\"" << ml + pw / 2 << "\" y=\"" << H - 8 << "\" class=\"alabel\" text-anchor=\"middle\">epoch</text>";
  o << "<text transform=\"translate(16 " << mt + ph / 2 << ") rotate(-90)\" class=\"alabel\" "
       "text-anchor=\"middle\">"
    << html_escape(y_label) << "</text>";
  if (best_epoch >= x_min && best_epoch <= x_max) {
    o << "<line x1=\"" << px(best_epoch) << "\" x2=\"" << px(best_epoch) << "\" y1=\"" << mt << "\" y2=\""
      << mt + ph << "\" class=\"best\"><title>best epoch " << best_epoch << "</title></line>";
  }
  // Series: a polyline through the present points, dots when there are few epochs.
  for (const Series& s : series) {
    std::ostringstream pts;
    int n = 0;
    for (std::size_t i = 0; i < x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.y[i])) {
        pts << px(x[i]) << "," << py(std::clamp(s.y[i], y_min, y_max)) << " ";
        ++n;
      }
    if (n == 0) continue;
    o << "<polyline class=\"series\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2.2\""
      << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << pts.str() << "\"/>";
    if (x.size() <= 40)
      for (std::size_t i = 0; i < x.size() && i < s.y.size(); ++i)
        if (std::isfinite(s.y[i]))
          o << "<circle cx=\"" << px(x[i]) << "\" cy=\"" << py(std::clamp(s.y[i], y_min, y_max))
            << "\" r=\"3\" fill=\"" << s.color << "\"><title>" << html_escape(s.name) << ", epoch " << x[i]
            << ": " << (unit_interval ? pct(s.y[i]) : fmt("%.4f", s.y[i])) << "</title></circle>";
  }
  // Legend: one row between the title and the plot, so it never hides a curve.
  double lx = ml;
  const double ly = 38;
  auto legend_item = [&](const std::string& name, const std::string& stroke_attrs) {
    o << "<line x1=\"" << lx << "\" x2=\"" << lx + 22 << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4 << "\" "
      << stroke_attrs << "/><text x=\"" << lx + 28 << "\" y=\"" << ly << "\" class=\"tick\">" << html_escape(name)
      << "</text>";
    lx += 28 + 7.0 * static_cast<double>(name.size()) + 18;
  };
  for (const Series& s : series)
    legend_item(s.name, "stroke=\"" + s.color + "\" stroke-width=\"2.5\"" +
                            (s.dashed ? std::string(" stroke-dasharray=\"6 4\"") : std::string()));
  if (best_epoch > 0) legend_item("best epoch (lowest validation loss)", "class=\"best\"");
  o << "</svg>";
  return o.str();
}

// Colour of a cell from the fraction of its row (0 white .. 1 deep blue): a 3-stop ramp.
std::string ramp(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const double stops[3][3] = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};
  const int i = t < 0.5 ? 0 : 1;
  const double u = t < 0.5 ? t / 0.5 : (t - 0.5) / 0.5;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x",
                static_cast<int>(std::lround(stops[i][0] + u * (stops[i + 1][0] - stops[i][0]))),
                static_cast<int>(std::lround(stops[i][1] + u * (stops[i + 1][1] - stops[i][1]))),
                static_cast<int>(std::lround(stops[i][2] + u * (stops[i + 1][2] - stops[i][2]))));
  return buf;
}

// Confusion matrix: rows = true genre, columns = predicted; colour = share of the row (recall
// on the diagonal), count in every cell.
std::string confusion_svg(const std::string& title, const ConfusionMatrix& cm, const std::vector<std::string>& labels) {
  const int k = cm.classes();
  const double cell = k <= 10 ? 36 : k <= 20 ? 26 : 18;
  std::size_t longest = 4;
  for (const std::string& l : labels) longest = std::max(longest, std::min<std::size_t>(l.size(), 14));
  // Room for the labels: ~7 px per character at 12 px; the column labels are turned 45 degrees,
  // so they rise label_w * 0.71 above the matrix and the last one reaches past its right edge.
  const double label_w = 6 + 7.0 * static_cast<double>(longest);
  const double ml = label_w + 22, mt = 44 + label_w * 0.72;
  const double W = ml + cell * k + std::max(20.0, label_w * 0.72 - cell / 2), H = mt + cell * k + 14;
  std::ostringstream o;
  o << "<svg class=\"matrix\" viewBox=\"0 0 " << W << " " << H << "\" width=\"" << W << "\" height=\"" << H
    << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">";
  o << "<text x=\"4\" y=\"20\" class=\"ctitle\">" << html_escape(title) << "</text>";
  o << "<text x=\"" << ml + cell * k / 2 << "\" y=\"" << mt - label_w * 0.72 - 6
    << "\" class=\"alabel\" text-anchor=\"middle\">predicted</text>";
  o << "<text transform=\"translate(14 " << mt + cell * k / 2 << ") rotate(-90)\" class=\"alabel\" "
       "text-anchor=\"middle\">true genre</text>";
  for (int i = 0; i < k; ++i) {
    const std::string name = i < static_cast<int>(labels.size()) ? labels[i] : std::to_string(i);
    const std::string shown = html_escape(shorten(name, 14)), full = html_escape(name);
    o << "<text x=\"" << ml - 6 << "\" y=\"" << mt + cell * i + cell / 2 + 4
      << "\" class=\"tick\" text-anchor=\"end\"><title>" << full << "</title>" << shown << "</text>";
    const double cx = ml + cell * i + cell / 2 + 4, cy = mt - 6;
    o << "<text transform=\"translate(" << cx << " " << cy << ") rotate(-45)\" class=\"tick\"><title>" << full
      << "</title>" << shown << "</text>";
  }
  for (int t = 0; t < k; ++t) {
    const std::int64_t row = cm.row_total(t);
    for (int p = 0; p < k; ++p) {
      const std::int64_t c = cm.at(t, p);
      const double frac = row > 0 ? static_cast<double>(c) / row : 0.0;
      const double x = ml + cell * p, y = mt + cell * t;
      o << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\""
        << ramp(frac) << "\" class=\"cell" << (t == p ? " diag" : "") << "\"><title>true "
        << html_escape(labels[t]) << ", predicted " << html_escape(labels[p]) << ": " << c << " (" << pct(frac)
        << " of the row)</title></rect>";
      if (c > 0)
        o << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 4 << "\" text-anchor=\"middle\" class=\"count\""
          << (frac > 0.55 ? " fill=\"#ffffff\"" : " fill=\"#1b2a3a\"") << ">" << c << "</text>";
    }
  }
  o << "<rect x=\"" << ml << "\" y=\"" << mt << "\" width=\"" << cell * k << "\" height=\"" << cell * k
    << "\" fill=\"none\" stroke=\"#9aa7b4\"/>";
  o << "</svg>";
  return o.str();
}

std::string scores_table(const TestResults& r) {
  const ClassificationScores song = score(r.song_confusion), clip = score(r.clip_confusion);
  std::ostringstream o;
  o << "<table class=\"scores\"><thead><tr><th rowspan=\"2\">genre</th>"
       "<th colspan=\"4\">song level (mean of clip probabilities)</th>"
       "<th colspan=\"4\">clip level</th></tr><tr>"
       "<th>precision</th><th>recall</th><th>F1</th><th>songs</th>"
       "<th>precision</th><th>recall</th><th>F1</th><th>clips</th></tr></thead><tbody>";
  auto cells = [&](const ClassScores& c) {
    std::ostringstream s;
    s << "<td>" << fmt("%.3f", c.precision) << "</td><td>" << fmt("%.3f", c.recall) << "</td><td class=\"f1\">"
      << fmt("%.3f", c.f1) << "</td><td>" << c.support << "</td>";
    return s.str();
  };
  for (std::size_t i = 0; i < r.labels.size(); ++i)
    o << "<tr><th>" << html_escape(r.labels[i]) << "</th>" << cells(song.per_class[i]) << cells(clip.per_class[i])
      << "</tr>";
  o << "<tr class=\"macro\"><th>macro average</th><td>" << fmt("%.3f", song.macro_precision) << "</td><td>"
    << fmt("%.3f", song.macro_recall) << "</td><td class=\"f1\">" << fmt("%.3f", song.macro_f1) << "</td><td>"
    << r.songs << "</td><td>" << fmt("%.3f", clip.macro_precision) << "</td><td>" << fmt("%.3f", clip.macro_recall)
    << "</td><td class=\"f1\">" << fmt("%.3f", clip.macro_f1) << "</td><td>" << r.clips << "</td></tr>";
  o << "</tbody></table>";
  return o.str();
}

std::string card(const std::string& label, const std::string& value, const std::string& note) {
  return "<div class=\"card\"><div class=\"clabel\">" + html_escape(label) + "</div><div class=\"cvalue\">" +
         html_escape(value) + "</div><div class=\"cnote\">" + html_escape(note) + "</div></div>";
}

const char* kStyle = R"(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f5f8; color: #1b2a3a;
  font: 15px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
header { background: #14243b; color: #fff; padding: 22px 36px 18px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; letter-spacing: .2px; }
header p { margin: 0; color: #b9c7d8; }
main { max-width: 1240px; margin: 0 auto; padding: 22px 28px 40px; }
section { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px rgba(20,36,59,.12);
  padding: 18px 22px; margin-bottom: 20px; }
h2 { margin: 0 0 12px; font-size: 18px; font-weight: 600; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { flex: 1 1 170px; background: #f6f8fb; border: 1px solid #e1e7ee; border-radius: 8px; padding: 12px 16px; }
.clabel { font-size: 13px; color: #5b6b7c; }
.cvalue { font-size: 28px; font-weight: 650; color: #14243b; }
.cnote { font-size: 12px; color: #7a8896; }
svg text { font-family: inherit; }
.ctitle { font-size: 15px; font-weight: 600; fill: #1b2a3a; }
.tick { font-size: 12px; fill: #44556a; }
.alabel { font-size: 13px; fill: #1b2a3a; }
.grid { stroke: #e7ebf0; stroke-width: 1; }
.axis { stroke: #6b7b8c; stroke-width: 1; }
.best { stroke: #7b8794; stroke-width: 1.4; stroke-dasharray: 2 3; }
.cell { stroke: #ffffff; stroke-width: 1; }
.count { font-size: 13px; font-weight: 600; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 11px; border-bottom: 1px solid #e6eaef; text-align: right; }
thead th { background: #f0f3f7; font-weight: 600; text-align: center; }
tbody th { text-align: left; font-weight: 500; }
td.f1 { font-weight: 600; }
tr.macro th, tr.macro td { border-top: 2px solid #c9d2dc; font-weight: 600; }
table.settings td { text-align: left; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; word-break: break-all; }
table.settings th { text-align: left; color: #44556a; font-weight: 500; white-space: nowrap; }
table.epochs td, table.epochs th { padding: 3px 10px; font-size: 13px; }
details summary { cursor: pointer; color: #2f5f98; margin-top: 8px; }
.muted { color: #7a8896; }
/* Phones: the page never scrolls sideways. Charts and matrices shrink to the width; the wide
   tables scroll inside their own box; long settings (paths, the command line) wrap. */
svg.chart, svg.matrix { max-width: 100%; height: auto; }
.scroll { max-width: 100%; overflow-x: auto; }
@media (max-width: 640px) {
  header { padding: 16px 16px 12px; }
  main { padding: 12px 8px 24px; }
  section { padding: 14px 12px; }
  table.settings th { white-space: normal; }
}
)";

}  // namespace

std::string render_report_html(const ReportData& d) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>"
    << html_escape(d.title) << "</title><style>" << kStyle << "</style></head><body>\n";
  o << "<header><h1>" << html_escape(d.title) << "</h1><p>" << html_escape(d.status) << "</p></header><main>\n";

  // Test results first: they are what a reader came for.
  if (d.test) {
    const TestResults& r = *d.test;
    const double chance = r.labels.empty() ? 0 : 1.0 / static_cast<double>(r.labels.size());
    o << "<section id=\"test\"><h2>Test set</h2><div class=\"cards\">"
      << card("song accuracy (mean of clip probabilities)", pct(r.song_accuracy()),
              std::to_string(r.song_confusion.correct()) + " of " + std::to_string(r.songs) + " songs")
      << card("song accuracy (majority vote)", pct(r.song_vote_accuracy()),
              std::to_string(r.song_vote_confusion.correct()) + " of " + std::to_string(r.songs) + " songs")
      << card("clip accuracy", pct(r.clip_accuracy()),
              std::to_string(r.clip_confusion.correct()) + " of " + std::to_string(r.clips) + " clips")
      << card("test loss", std::isfinite(r.loss) ? fmt("%.4f", r.loss) : "n/a",
              "chance accuracy " + pct(chance))
      << "</div></section>\n";
  } else {
    o << "<section id=\"test\"><h2>Test set</h2><p class=\"muted\">No test split: nothing was evaluated.</p></section>\n";
  }

  // Curves.
  std::vector<int> x;
  Series tl{"train", "#2f6db5", false, {}}, vl{"validation", "#e07b24", true, {}};
  Series ta{"train", "#2f6db5", false, {}}, va{"validation", "#e07b24", true, {}};
  for (const EpochMetrics& e : d.epochs) {
    x.push_back(e.epoch);
    tl.y.push_back(e.train_loss);
    vl.y.push_back(e.val_loss);
    ta.y.push_back(e.train_accuracy);
    va.y.push_back(e.val_accuracy);
  }
  o << "<section id=\"curves\"><h2>Training curves</h2>";
  if (d.epochs.empty()) {
    o << "<p class=\"muted\">No finished epoch.</p>";
  } else {
    o << "<div class=\"row\">" << line_chart("Loss (categorical cross-entropy)", "loss", x, {tl, vl}, false, d.best_epoch)
      << line_chart("Accuracy (clip level)", "accuracy", x, {ta, va}, true, d.best_epoch) << "</div>";
    // An accuracy means little without what it rests on: the clips (and songs) of each side.
    auto basis = [](std::int64_t clips, std::int64_t songs) {
      if (clips <= 0) return std::string();
      return std::to_string(clips) + " clips" + (songs > 0 ? " of " + std::to_string(songs) + " songs" : "");
    };
    const std::string train_basis = basis(d.train_clips, d.train_songs), val_basis = basis(d.val_clips, d.val_songs);
    if (!train_basis.empty())
      o << "<p class=\"muted\">Training accuracy over " << train_basis << "; validation accuracy over "
        << (val_basis.empty() ? "no clips (no validation split)" : val_basis) << ".</p>";
    o << "<details><summary>Per-epoch numbers</summary><div class=\"scroll\"><table class=\"epochs\"><thead><tr><th>epoch</th>"
         "<th>train loss</th><th>train acc"
      << (d.train_clips > 0 ? " (" + std::to_string(d.train_clips) + " clips)" : "")
      << "</th><th>val loss</th><th>val acc"
      << (d.val_clips > 0 ? " (" + std::to_string(d.val_clips) + " clips)" : "")
      << "</th><th>lr</th><th>seconds</th><th>clips/s</th></tr></thead><tbody>";
    auto num = [](double v, const char* f) { return std::isfinite(v) ? fmt(f, v) : std::string("\u2013"); };
    for (const EpochMetrics& e : d.epochs)
      o << "<tr" << (e.epoch == d.best_epoch ? " class=\"macro\"" : "") << "><td>" << e.epoch << "</td><td>"
        << num(e.train_loss, "%.4f") << "</td><td>" << num(100 * e.train_accuracy, "%.1f%%") << "</td><td>"
        << num(e.val_loss, "%.4f") << "</td><td>" << num(100 * e.val_accuracy, "%.1f%%") << "</td><td>"
        << num(e.lr, "%.3g") << "</td><td>" << num(e.seconds, "%.1f") << "</td><td>"
        << num(e.clips_per_second, "%.1f") << "</td></tr>";
    o << "</tbody></table></div></details>";
  }
  o << "</section>\n";

  if (d.test) {
    const TestResults& r = *d.test;
    o << "<section id=\"confusion\"><h2>Confusion matrices (test set)</h2><div class=\"row\">"
      << confusion_svg("Songs (mean of clip probabilities)", r.song_confusion, r.labels)
      << confusion_svg("Clips", r.clip_confusion, r.labels)
      << "</div><p class=\"muted\">Rows are the true genre, columns the prediction; the colour is the "
         "share of the row.</p></section>\n";
    o << "<section id=\"scores\"><h2>Per-genre precision, recall and F1 (test set)</h2><div class=\"scroll\">"
      << scores_table(r) << "</div></section>\n";
  }

  o << "<section id=\"settings\"><h2>Settings</h2><table class=\"settings\"><tbody>";
  for (const auto& [k, v] : d.settings)
    o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>";
  o << "</tbody></table></section>\n";
  o << "</main></body></html>\n";
  return o.str();
}

void write_report(const std::string& path, const ReportData& data) {
  write_file_atomically(path, render_report_html(data));
}

}  // namespace gn
