// C++ containers growing inside class methods: every allocation happens deep in libstdc++
// (operator new under std::vector, std::map, std::string), so the method is found only by
// unwinding. Usage: deep_containers ITERATIONS PERIOD_MS
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace app {

class Registry {
 public:
  __attribute__((noinline)) void add_reading(int i) { readings_.push_back(i); }
  __attribute__((noinline)) void add_name(int i) { names_.emplace(i, std::string(40, 'a' + i % 26)); }
  __attribute__((noinline)) void append_log(int i) { log_ += std::string(64, 'x') + std::to_string(i); }
  __attribute__((noinline)) void add_tag(int i) { tags_.push_back(std::string(48, 't') + std::to_string(i)); }

 private:
  std::vector<int> readings_;
  std::map<int, std::string> names_;
  std::string log_;
  std::vector<std::string> tags_;
};

}  // namespace app

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 30;
  const int period_ms = argc > 2 ? std::atoi(argv[2]) : 60;
  auto* registry = new app::Registry;  // kept: everything it holds is outstanding
  for (int i = 0; i < iterations; i++) {
    for (int k = 0; k < 8; k++) {
      registry->add_reading(i * 8 + k);
      registry->add_name(i * 8 + k);
      registry->append_log(i * 8 + k);
      registry->add_tag(i * 8 + k);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
  }
  return 0;
}
