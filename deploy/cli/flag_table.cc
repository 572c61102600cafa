#include "deploy/cli/flag_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace lumen::cli {
namespace {

constexpr size_t kWidth = 80;
constexpr size_t kHelpColumn = 29;

std::string Normalize(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

const Flag* Find(const CommandSpec& spec, const std::string& name) {
  for (const Flag& flag : spec.flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// `-o` for a flag whose short name is "o": its long form.
std::string LongForm(const CommandSpec& spec, const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-') return arg;
  for (const Flag& flag : spec.flags) {
    if (!flag.short_name.empty() && arg.substr(1) == flag.short_name) return "--" + flag.name;
  }
  return arg;
}

std::string FlagWords(const Flag& flag) {
  return "--" + flag.name + (flag.is_switch() ? "" : " " + flag.value_name);
}

std::string HelpWithDefault(const Flag& flag) {
  if (flag.default_text.empty()) return flag.help;
  return flag.help + " (default: " + flag.default_text + ")";
}

// Applies one flag; `next` is the following word, consumed (`used_next`)
// when it is the flag's value.
absl::Status Apply(const CommandSpec& spec, const Flag& flag, bool has_inline, const std::string& inline_value,
                   const std::string* next, bool& used_next) {
  if (flag.is_switch()) {
    std::string value = has_inline ? absl::AsciiStrToLower(inline_value) : "true";
    if (value != "true" && value != "false") {
      return absl::InvalidArgumentError("--" + flag.name + " takes no value (or true/false), got \"" +
                                        inline_value + "\"");
    }
    return flag.set(value);
  }
  std::string value;
  if (has_inline) {
    value = inline_value;
  } else if (next != nullptr && next->rfind("--", 0) != 0) {
    value = *next;
    used_next = true;
  } else {
    return absl::InvalidArgumentError("flag --" + flag.name + " needs a value (--" + flag.name + " " +
                                      flag.value_name + ", see `lumen " + spec.name + " --help`)");
  }
  return flag.set(value);
}

}  // namespace

absl::Status ParseFlags(const CommandSpec& spec, const std::vector<std::string>& args, bool& help) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string arg = LongForm(spec, args[i]);
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (spec.positionals != nullptr && !arg.empty() && arg[0] != '-') {
      spec.positionals->push_back(arg);
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return absl::InvalidArgumentError("unexpected argument \"" + arg + "\" for `lumen " + spec.name + "`");
    }
    const size_t eq = arg.find('=');
    const bool has_inline = eq != std::string::npos;
    const std::string name = Normalize(arg.substr(2, has_inline ? eq - 2 : std::string::npos));
    const Flag* flag = Find(spec, name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError("unknown flag --" + name + " for `lumen " + spec.name + "`");
    }
    bool used_next = false;
    const std::string* next = i + 1 < args.size() ? &args[i + 1] : nullptr;
    absl::Status st = Apply(spec, *flag, has_inline, has_inline ? arg.substr(eq + 1) : "", next, used_next);
    if (!st.ok()) return st;
    if (used_next) ++i;
  }
  return absl::OkStatus();
}

std::string Wrap(const std::string& text, size_t first_width, size_t width, size_t indent) {
  std::string out;
  size_t line_width = first_width;
  size_t column = 0;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > 0 && column + 1 + word.size() > line_width) {
      out += "\n" + std::string(indent, ' ');
      line_width = width - indent;
      column = 0;
    }
    if (column > 0) {
      out += ' ';
      ++column;
    }
    out.append(word.data(), word.size());
    column += word.size();
  }
  return out;
}

namespace {
std::string Synopses(const CommandSpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.synopses.size(); ++i) {
    out += (i == 0 ? "usage: " : "       ") + std::string("lumen ") + spec.name + " " + spec.synopses[i] + "\n";
  }
  return out;
}
}  // namespace

std::string ShortUsageText(const CommandSpec& spec) {
  return Synopses(spec) + "Run `lumen " + spec.name + " --help` for its flags.\n";
}

std::string UsageText(const CommandSpec& spec) {
  std::string out = Synopses(spec);
  if (!spec.description.empty()) out += "\n" + Wrap(spec.description, kWidth, kWidth, 0) + "\n";
  out += "\nflags:\n";
  for (const Flag& flag : spec.flags) {
    std::string words = "  " + FlagWords(flag);
    if (words.size() + 2 > kHelpColumn) {
      out += words + "\n" + std::string(kHelpColumn, ' ');
    } else {
      out += words + std::string(kHelpColumn - words.size(), ' ');
    }
    out += Wrap(HelpWithDefault(flag), kWidth - kHelpColumn, kWidth, kHelpColumn) + "\n";
  }
  std::string help_words = "  -h, --help";
  out += help_words + std::string(kHelpColumn - help_words.size(), ' ') + "this text\n";
  return out;
}

std::string MarkdownTable(const CommandSpec& spec) {
  // Text outside code spans: what Markdown would take for a table cell's
  // end, an HTML tag or emphasis is escaped.
  auto escape = [](const std::string& text) {
    return absl::StrReplaceAll(text, {{"|", "\\|"}, {"<", "&lt;"}, {">", "&gt;"}, {"*", "\\*"}});
  };
  std::string out = "| flag | default | meaning |\n|---|---|---|\n";
  for (const Flag& flag : spec.flags) {
    out += "| `" + FlagWords(flag) + "` | " + escape(flag.default_text) + " | " + escape(flag.help) + " |\n";
  }
  return out;
}

}  // namespace lumen::cli
