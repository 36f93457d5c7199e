/* quarc — the command-line tool. Each subcommand lives in tools/cmd_<name>.c and is
 * listed in CLI_COMMANDS (tools/cli.h). */
#include "tools/cli.h"

#include <stdarg.h>
#include <string.h>

#define CLI_ENTRY(name) &cli_cmd_##name,
static const cli_command *const COMMANDS[] = {CLI_COMMANDS(CLI_ENTRY)};
#undef CLI_ENTRY
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

int cli_fail(qc_status s) {
  fprintf(stderr, "quarc: error: %s\n", qc_status_message(s));
  qc_status_free(s);
  return 1;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "quarc %s: error: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nusage: %s\n", cmd->usage);
  va_end(ap);
  return 2;
}

const char *cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n] != 0) return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

static void print_help(FILE *f) {
  fprintf(f, "quarc %s — a dataflow-graph compiler for quantized models\n\n", qc_version());
  fprintf(f, "usage: quarc <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-12s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
  fprintf(f, "\n`quarc help <command>` describes one command.\n");
}

static int run_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("quarc %s\n", qc_version());
  return 0;
}
const cli_command cli_cmd_version = {"version", "print the version", "quarc version", run_version};

static int run_help(int argc, char **argv) {
  if (argc < 2) {
    print_help(stdout);
    return 0;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(COMMANDS[i]->name, argv[1]) == 0) {
      printf("%s — %s\n\nusage: %s\n", COMMANDS[i]->name, COMMANDS[i]->summary,
             COMMANDS[i]->usage);
      return 0;
    }
  fprintf(stderr, "quarc help: unknown command '%s'\n", argv[1]);
  return 2;
}
const cli_command cli_cmd_help = {"help", "describe the commands", "quarc help [COMMAND]",
                                  run_help};

int main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    print_help(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) name = "version";
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(COMMANDS[i]->name, name) == 0) return COMMANDS[i]->run(argc - 1, argv + 1);
  fprintf(stderr, "quarc: error: unknown command '%s' (see `quarc --help`)\n", name);
  return 2;
}
