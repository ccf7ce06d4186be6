// report.html: content and escaping checked on the text; rendering checked in headless
// Chromium (Debian's `chromium`), which must produce a non-blank screenshot, a DOM with the
// charts and matrices, and no console errors. Skips with a message when Chromium is absent.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "train/metrics_log.h"
#include "train/report.h"

namespace gn {
namespace {

namespace fs = std::filesystem;

// A plausible finished run with a hostile genre name (folder names are user input).
ReportData sample_report(int classes = 10) {
  ReportData d;
  d.status = "finished 24 epochs in 3:41 on cpu";
  std::vector<std::string> labels = {"blues", "classical", "country", "disco", "hiphop",
                                     "jazz",  "metal",     "pop",     "reggae", "<b>rock</b> & \"roll\""};
  labels.resize(classes, "x");
  for (int e = 1; e <= 24; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.train_loss = 2.3 * std::exp(-e / 6.0) + 0.05;
    m.val_loss = 2.3 * std::exp(-e / 7.0) + 0.2 + (e > 18 ? 0.02 * (e - 18) : 0.0);
    m.train_accuracy = 1.0 - 0.9 * std::exp(-e / 5.0);
    m.val_accuracy = 0.95 - 0.85 * std::exp(-e / 6.0);
    m.lr = 0.005;
    m.seconds = 9.2;
    m.clips_per_second = 41.5;
    d.epochs.push_back(m);
  }
  d.best_epoch = 18;
  // Test predictions: 4 songs per class x 5 clips; class c's clips mostly predict c.
  std::vector<float> probs;
  std::vector<int> clip_labels;
  std::vector<std::int64_t> clip_songs;
  for (int c = 0; c < classes; ++c)
    for (int s = 0; s < 4; ++s)
      for (int k = 0; k < 5; ++k) {
        const int wrong = (c + 1 + (s + k) % 3) % classes;
        const bool right = (s * 5 + k + c) % 7 != 0;
        for (int j = 0; j < classes; ++j) probs.push_back(j == (right ? c : wrong) ? 0.7f : 0.3f / (classes - 1));
        clip_labels.push_back(c);
        clip_songs.push_back(c * 4 + s);
      }
  d.test = evaluate_predictions(labels, probs, clip_labels, clip_songs, 0.4321);
  d.settings = {{"data", "/data/<gtzan> & co"}, {"frontend", "logstft"}, {"epochs", "24"}, {"batch", "32"},
                {"lr", "0.005"}, {"seed", "1"}};
  return d;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

TEST(Report, EscapesEveryOutsideText) {
  EXPECT_EQ(html_escape("<a href=\"x\">it's & </a>"), "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; &lt;/a&gt;");
  const std::string html = render_report_html(sample_report());
  EXPECT_EQ(html.find("<b>rock</b>"), std::string::npos) << "a genre name reached the page unescaped";
  EXPECT_NE(html.find("&lt;b&gt;rock&lt;/b&gt; &amp; &quot;roll&quot;"), std::string::npos);
  EXPECT_EQ(html.find("<gtzan>"), std::string::npos);
  EXPECT_NE(html.find("/data/&lt;gtzan&gt; &amp; co"), std::string::npos);
}

TEST(Report, IsSelfContainedAndHoldsEveryPart) {
  const std::string html = render_report_html(sample_report());
  // Self-contained: no scripts, no external references of any kind.
  for (const char* bad : {"<script", "http://", "https://", "src=", "<link", "@import", "url("})
    EXPECT_EQ(html.find(bad), std::string::npos) << "found " << bad;
  EXPECT_EQ(count_of(html, "<svg"), 4u);  // loss, accuracy, 2 confusion matrices
  EXPECT_NE(html.find("Loss (categorical cross-entropy)"), std::string::npos);
  EXPECT_NE(html.find(">validation<"), std::string::npos);
  EXPECT_NE(html.find(">epoch<"), std::string::npos);
  EXPECT_NE(html.find("song accuracy (majority vote)"), std::string::npos);
  EXPECT_NE(html.find("macro average"), std::string::npos);
  EXPECT_NE(html.find("<th>seed</th><td>1</td>"), std::string::npos);
  // 2 matrices x 100 cells.
  EXPECT_EQ(count_of(html, "class=\"cell"), 200u);
}

TEST(Report, HandlesRunsWithoutValidationOrTest) {
  ReportData d = sample_report(3);
  d.test.reset();
  for (EpochMetrics& e : d.epochs) e.val_loss = e.val_accuracy = std::numeric_limits<double>::quiet_NaN();
  d.best_epoch = 0;
  const std::string html = render_report_html(d);
  EXPECT_EQ(count_of(html, "<svg"), 2u);
  EXPECT_NE(html.find("No test split"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  d.epochs.clear();
  EXPECT_NE(render_report_html(d).find("No finished epoch"), std::string::npos);
}

// ---- Chromium ------------------------------------------------------------------------------

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string cmd = std::string("command -v ") + name + " 2>/dev/null";
    std::array<char, 512> buf{};
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      while (fgets(buf.data(), buf.size(), p)) out += buf.data();
      pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (!out.empty()) return out;
  }
  return "";
}

// Runs a shell command, returns its exit status; stdout+stderr go to `log_path`.
int shell(const std::string& command, const std::string& log_path) {
  return test::run_shell("timeout 120 " + command + " >'" + log_path + "' 2>&1");
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Report, RendersInHeadlessChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium): cannot render report.html";
  const std::string dir = test::temp_dir("report");
  const std::string page = dir + "/report.html", shot = dir + "/shot.png";
  write_report(page, sample_report());
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start. A
  // private profile dir keeps runs independent of each other and of any user profile.
  const std::string common = "'" + chromium + "' --headless --no-sandbox --disable-gpu --hide-scrollbars "
                             "--no-first-run --user-data-dir='" + dir + "/profile' --enable-logging=stderr --v=0 ";
  const std::string url = "'file://" + page + "'";
  ASSERT_EQ(shell(common + "--window-size=1280,2400 --screenshot='" + shot + "' " + url, dir + "/shot.log"), 0)
      << slurp(dir + "/shot.log");
  ASSERT_EQ(shell(common + "--dump-dom " + url, dir + "/dom.log"), 0) << slurp(dir + "/dom.log");
  const std::string dom = slurp(dir + "/dom.log");

  // The DOM Chromium built: both charts and both matrices, every genre, no parse surprises.
  EXPECT_EQ(count_of(dom, "<svg"), 4u);
  EXPECT_GE(count_of(dom, "<polyline"), 4u);
  EXPECT_NE(dom.find("classical"), std::string::npos);
  EXPECT_EQ(dom.find("<b>rock</b>"), std::string::npos);
  // No console messages at error level and no uncaught exceptions.
  for (const std::string& log : {slurp(dir + "/shot.log"), dom})
    for (const char* bad : {"Uncaught", ":ERROR:CONSOLE", "SyntaxError"})
      EXPECT_EQ(log.find(bad), std::string::npos) << "Chromium reported " << bad;

  // The screenshot: a PNG of the window size and not blank. A white 1280x2400 page compresses
  // to a few kB; this page's charts, text and coloured cells take well over 60 kB.
  const std::string png = slurp(shot);
  ASSERT_GT(png.size(), 24u);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<unsigned>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<unsigned>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<unsigned>(static_cast<unsigned char>(png[at + 3]));
  };
  EXPECT_EQ(be32(16), 1280u);
  EXPECT_EQ(be32(20), 2400u);
  EXPECT_GT(png.size(), 60000u) << "the screenshot looks blank";
  // Pixel spread, when `convert` (ImageMagick) can turn the PNG into a binary PPM: a blank
  // page has a grey standard deviation of ~0; this one, white cards on grey with dark text,
  // coloured cells and curves, well above 0.05.
  if (shell("sh -c 'command -v convert'", dir + "/im.log") == 0 &&
      shell("convert '" + shot + "' ppm:- > '" + dir + "/shot.ppm' 2>/dev/null; true", dir + "/ppm.log") == 0) {
    const std::string ppm = slurp(dir + "/shot.ppm");
    std::istringstream header(ppm);
    std::string magic;
    int w = 0, h = 0, maxval = 0;
    header >> magic >> w >> h >> maxval;
    const std::size_t start = static_cast<std::size_t>(header.tellg()) + 1;
    ASSERT_EQ(magic, "P6");
    ASSERT_EQ(maxval, 255);
    ASSERT_EQ(ppm.size() - start, static_cast<std::size_t>(w) * h * 3);
    double sum = 0, sum_sq = 0;
    const std::size_t pixels = static_cast<std::size_t>(w) * h;
    for (std::size_t i = 0; i < pixels; ++i) {
      const unsigned char* px = reinterpret_cast<const unsigned char*>(ppm.data() + start + 3 * i);
      const double grey = (0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]) / 255.0;
      sum += grey;
      sum_sq += grey * grey;
    }
    const double mean = sum / pixels, sd = std::sqrt(std::max(0.0, sum_sq / pixels - mean * mean));
    EXPECT_GT(sd, 0.05) << "the screenshot is nearly uniform";
    std::printf("screenshot %zu bytes, %dx%d, grey mean %.3f, standard deviation %.3f\n", png.size(), w, h, mean, sd);
  } else {
    std::printf("screenshot %zu bytes (no `convert` to measure its pixels)\n", png.size());
  }
  if (const char* keep = std::getenv("GENRENET_KEEP_REPORT")) {
    fs::copy_file(shot, std::string(keep) + ".png", fs::copy_options::overwrite_existing);
    fs::copy_file(page, std::string(keep) + ".html", fs::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace gn
