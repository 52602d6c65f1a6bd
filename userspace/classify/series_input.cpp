#include "classify/series_input.h"

#include <charconv>
#include <cmath>
#include <string>

#include "classify/leak_factor.h"

namespace edleak::classify {
namespace {

constexpr std::string_view kBlanks = " \t\r\v\f";

bool is_blank(char c) { return kBlanks.find(c) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  const std::size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kBlanks) - begin + 1);
}

// Long garbage is cut in messages so one bad line cannot flood the terminal.
std::string quoted(std::string_view field) {
  constexpr std::size_t kShown = 40;
  if (field.size() <= kShown) return fmt::format("'{}'", field);
  return fmt::format("'{}...'", field.substr(0, kShown));
}

// Splits "t bytes", "t,bytes" or "t , bytes": fields are separated by blanks or by one comma
// with optional blanks around it. An empty field ("1,,2", ",1 2") is an error.
Result<std::vector<std::string_view>> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  bool need_field = true;  // at the start, or after a comma
  while (i < line.size()) {
    if (is_blank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == ',') {
      if (need_field) return make_error("empty field before ','");
      need_field = true;
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < line.size() && !is_blank(line[i]) && line[i] != ',') ++i;
    fields.push_back(line.substr(start, i - start));
    need_field = false;
  }
  if (need_field && !fields.empty()) return make_error("empty field after ','");
  return fields;
}

Result<double> parse_number(std::string_view field, std::string_view what) {
  double value = 0;
  const char* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, value);
  if (ec == std::errc::result_out_of_range) return make_error("{} is out of range", quoted(field));
  if (ec != std::errc() || ptr != end) return make_error("{} is not a number", quoted(field));
  if (!std::isfinite(value)) return make_error("{} {} is not a finite number", what, quoted(field));
  if (value < 0) return make_error("{} {} is negative", what, quoted(field));
  return value;
}

Result<series::Point> parse_sample(std::string_view line) {
  auto fields = split_fields(line);
  if (!fields) return fields.error();
  if (fields->size() != 2)
    return make_error("expected 2 fields \"t bytes\", got {}", fields->size());
  auto t = parse_number((*fields)[0], "time");
  if (!t) return t.error();
  auto bytes = parse_number((*fields)[1], "bytes");
  if (!bytes) return bytes.error();
  return series::Point{*t, *bytes};
}

}  // namespace

Result<std::vector<series::Point>> read_series(std::istream& in, std::string_view source_name) {
  std::vector<series::Point> points;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view content = line;
    content = trim(content.substr(0, content.find('#')));
    if (content.empty()) continue;
    auto sample = parse_sample(content);
    if (!sample) return make_error("{}:{}: {}", source_name, line_number, sample.error().message);
    if (!points.empty() && sample->t_s < points.back().t_s)
      return make_error("{}:{}: time {} goes backwards (previous sample at {})", source_name,
                        line_number, sample->t_s, points.back().t_s);
    points.push_back(*sample);
  }
  if (in.bad()) return make_error("{}: read error after line {}", source_name, line_number);
  if (points.size() < kMinPoints)
    return make_error("{}: {} sample{}, the leak factor needs at least {}", source_name,
                      points.size(), points.size() == 1 ? "" : "s", kMinPoints);
  if (points.back().t_s == points.front().t_s)
    return make_error("{}: all {} samples are at time {}: a trend needs time to pass",
                      source_name, points.size(), points.front().t_s);
  return points;
}

}  // namespace edleak::classify
