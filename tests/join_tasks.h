// tests/join_tasks.h
//
// Remote functions built into a shared library (liblumen_join_tasks.so) that
// lumen-worker loads from the job's code search path.
#pragma once

#include <msgpack.hpp>
#include <string>
#include <vector>

struct Point {
  double x = 0, y = 0;
  std::string label;
  MSGPACK_DEFINE(x, y, label);
};

Point Scale(Point p, double factor);
int Twice(int x);
std::string Twice(std::string s);
int Pid();
std::string Shout(std::string text);
