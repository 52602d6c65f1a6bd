#pragma once

namespace edleak::app {

// Parses the command line and runs the chosen mode; returns the process exit code.
int main_entry(int argc, char** argv);

}  // namespace edleak::app
