#include "tests/join_tasks.h"

#include <ray/api.h>
#include <unistd.h>

#include <iostream>

Point Scale(Point p, double factor) { return Point{p.x * factor, p.y * factor, p.label + "'"}; }
int Twice(int x) { return 2 * x; }
std::string Twice(std::string s) { return s + s; }
int Pid() { return ::getpid(); }
std::string Shout(std::string text) {
  std::cout << "shouting " << text << std::endl;
  return text + "!";
}

RAY_REMOTE(Scale, RAY_FUNC(Twice, int), RAY_FUNC(Twice, std::string), Pid, Shout);
