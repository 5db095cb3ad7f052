//===- CliTool.cpp - `birkhoff <command>`: parsing, help, usage errors ----===//
//
// One CLI11 app with a subcommand per command. Everything a user can get
// wrong on the command line is reported here, the same way for every
// command: "birkhoff <command>: <message>", the command's usage, exit 2.
//
//===----------------------------------------------------------------------===//
#include "Cli.h"
#include "CliHelp.h"

#include "birkhoff/Log.h"

#include <cstdio>
#include <map>
#include <memory>

namespace birkhoff::tools::cli {
namespace {

/// The command the line chose, else the main app.
const CLI::App &chosen(const CLI::App &app) {
  std::vector<CLI::App *> subs = app.get_subcommands();
  return subs.empty() ? app : *subs.front();
}

/// The first argument no declaration took, as a message: an unknown option
/// ("unknown option --bogus"), a command the main app does not have, or one
/// positional argument too many.
std::optional<std::string> leftOver(const CLI::App &app) {
  std::vector<std::string> rest = app.remaining();
  // CLI11 keeps the "--" that ends the options among them.
  std::erase(rest, "--");
  for (const std::string &arg : rest)
    if (arg.size() > 1 && arg[0] == '-')
      return "unknown option " + arg.substr(0, arg.find('='));
  if (rest.empty())
    return std::nullopt;
  if (app.get_parent() == nullptr)
    return "unknown command '" + rest.front() + "'";
  return "unexpected argument '" + rest.front() + "'";
}

/// Left-over arguments first: "unknown option --bogus" explains a missing
/// argument or value that follows from it.
std::optional<std::string> leftOverOf(const CLI::App &app) {
  if (std::optional<std::string> main = leftOver(app))
    return main;
  const CLI::App &command = chosen(app);
  return &command == &app ? std::nullopt : leftOver(command);
}

/// A CLI11 parse error in the words docs/cli.md uses.
std::string describe(const CLI::ParseError &e) {
  std::string what = e.what();
  // CLI11 2.1 says "--seed: 1 required  missing" for a value left out at
  // the end, and "--verify was given a disallowed flag override" for a flag
  // given a value; both start with the option's name.
  if (dynamic_cast<const CLI::ArgumentMismatch *>(&e)) {
    std::string name = what.substr(0, what.find_first_of(": "));
    if (name[0] != '-') // the flag's message names it without dashes
      name = (name.size() == 1 ? "-" : "--") + name;
    return what.find("flag override") != std::string::npos
               ? name + " takes no value"
               : name + " needs a value";
  }
  return what;
}

/// The command line with each `--name=` of a valued option as `--name ""`.
/// CLI11 2.1 reads an empty `=value` as no value and takes the next argument
/// instead (`--text= --json` would encode "--json"); an empty value is a
/// value, as it is when given apart (`--text ""`).
std::vector<std::string> emptyValuesApart(const CLI::App &app, int argc,
                                          const char *const *argv) {
  std::vector<std::string> args(argv, argv + argc);
  const CLI::App *command = nullptr;
  for (const CLI::App *sub : app.get_subcommands({}))
    if (argc > 1 && sub->get_name() == args[1])
      command = sub;
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    const CLI::Option *opt =
        command && i > 1 && arg.size() > 3 && arg.starts_with("--") &&
                arg.back() == '='
            ? command->get_option_no_throw(arg.substr(0, arg.size() - 1))
            : nullptr;
    if (arg == "--") { // the rest are positional
      out.insert(out.end(), args.begin() + i, args.end());
      break;
    }
    if (opt && opt->get_type_size() != 0) {
      out.push_back(arg.substr(0, arg.size() - 1));
      out.push_back("");
    } else {
      out.push_back(arg);
    }
  }
  return out;
}

} // namespace

int usageError(const CLI::App &app, const std::string &message) {
  const bool main = app.get_parent() == nullptr;
  std::string name = main ? "birkhoff" : "birkhoff " + app.get_name();
  std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
  if (auto help = std::dynamic_pointer_cast<HelpFormatter>(app.get_formatter()))
    std::fputs(help->usageText().c_str(), stderr);
  if (main)
    std::fprintf(stderr, "`birkhoff --help` lists the commands.\n");
  else
    std::fprintf(stderr, "`birkhoff help %s` lists every option.\n",
                 app.get_name().c_str());
  return 2;
}

int runTool(std::span<const Command> commands, int argc,
            const char *const *argv) {
  CLI::App app("", "birkhoff");
  app.formatter(
      std::make_shared<HelpFormatter>("birkhoff <command> [options]", ""));
  app.footer("`birkhoff <command> --help` or `birkhoff help <command>` lists "
             "a command's options.");
  app.set_help_flag("-h,--help", "print this help and exit");
  // One command a line; a later word that names another command is then an
  // argument of the first (a file called `run`), not a second command.
  app.require_subcommand(0, 1);
  // Left-over arguments are reported by leftOverOf, in our words.
  app.allow_extras();
  bool version = false;
  addFlag(app, "--version", version,
          "print the version, git revision and CUDA support (as `birkhoff "
          "version`)");

  std::map<const CLI::App *, Runner> runners;
  Runner versionRunner;
  // Every command's messages on stderr (birkhoff/Log.h): progress and the
  // informational lines at `info`, none but errors with --quiet.
  std::string level = "info";
  bool quiet = false;
  for (const Command &c : commands) {
    CLI::App *sub = app.add_subcommand(c.name, c.summary);
    sub->formatter(std::make_shared<HelpFormatter>(c.usage, c.about));
    sub->footer(""); // the main app's would be inherited
    sub->allow_extras();
    sub->option_defaults()->multi_option_policy(
        CLI::MultiOptionPolicy::TakeLast);
    runners[sub] = c.declare(*sub);
    addChoice(*sub, "--log-level LEVEL", level,
              {"error", "warning", "info", "debug"},
              "what goes to stderr besides errors: warnings, progress and "
              "informational lines (info), detail (debug)");
    addFlag(*sub, "-q,--quiet", quiet,
            "errors only on stderr (as --log-level error)");
    if (std::string(c.name) == "version")
      versionRunner = runners[sub];
  }
  std::string topic;
  CLI::App *help = app.add_subcommand(
      "help", "print a command's options (birkhoff help <command>)");
  help->formatter(std::make_shared<HelpFormatter>(
      "birkhoff help [<command>]",
      "Prints the command's help, as `birkhoff <command> --help` does; "
      "without one, the list of commands."));
  help->footer("");
  help->allow_extras();
  addPositional(*help, "command", topic, "a command", /*required=*/false);

  std::vector<std::string> args = emptyValuesApart(app, argc, argv);
  std::vector<const char *> argp;
  for (const std::string &arg : args)
    argp.push_back(arg.c_str());
  try {
    app.parse(int(argp.size()), argp.data());
  } catch (const CLI::CallForHelp &) {
    std::fputs(app.help().c_str(), stdout); // the chosen command's
    return 0;
  } catch (const CLI::ParseError &e) {
    return usageError(chosen(app), leftOverOf(app).value_or(describe(e)));
  }
  const CLI::App &command = chosen(app);
  if (std::optional<std::string> message = leftOverOf(app))
    return usageError(command, *message);

  if (&command == help) {
    if (topic.empty()) {
      std::fputs(app.get_formatter()->make_help(&app, "", {}).c_str(), stdout);
      return 0;
    }
    for (const CLI::App *sub : app.get_subcommands({}))
      if (sub->get_name() == topic) {
        std::fputs(sub->help().c_str(), stdout);
        return 0;
      }
    return usageError(*help, "unknown command '" + topic + "'");
  }
  if (version) {
    if (&command != &app)
      return usageError(app, "--version takes no command");
    if (versionRunner)
      return versionRunner();
  }
  if (&command == &app)
    return usageError(app, "expected a command");
  setLogLevel(quiet ? LogLevel::Error : *parseLogLevel(level));
  return runners.at(&command)();
}

} // namespace birkhoff::tools::cli
