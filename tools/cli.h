/* The quarc command line: shared declarations of the subcommands (tools/cmd_*.c). */
#ifndef QUARC_TOOLS_CLI_H
#define QUARC_TOOLS_CLI_H

#include "quarc/export.h"
#include "quarc/quarc.h"

#include <stdio.h>

/* A subcommand: main-style entry; returns the process exit code. */
typedef struct cli_command {
  const char *name;
  const char *summary;
  const char *usage; /* printed by `quarc help NAME` and on usage errors */
  int (*run)(int argc, char **argv);
} cli_command;

/* Print "quarc: error: <status message>" and free the status; returns 1. */
int cli_fail(qc_status s);
/* Print "quarc <cmd>: error: <printf message>"; returns 2 (usage error). */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) QC_PRINTF(2, 3);

/* "--name=value" or "--name value": returns the value and advances *i, or NULL if argv[*i]
 * is not this option; *missing is set when the value is absent. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing);

/* Shared by the model commands (eval, embed, generate; defined in cmd_eval.c). */
/* Monotonic seconds. */
double cli_now(void);
/* A progress bar on stderr ("\r" redrawn; a newline when done == total). */
void cli_progress(const char *what, int64_t done, int64_t total, const char *extra);

#define CLI_COMMANDS(X)                                                                          \
  X(version)                                                                                     \
  X(help)                                                                                        \
  X(inspect)                                                                                     \
  X(opt)                                                                                         \
  X(run)                                                                                         \
  X(quantize)                                                                                    \
  X(eval)                                                                                        \
  X(embed)                                                                                       \
  X(generate)                                                                                    \
  X(export)                                                                                      \
  X(import)

/* quarc export / quarc import (tools/cmd_export.c): the shared driver and its options. */
int cli_export_run(const cli_command *cmd, int argc, char **argv, bool import);
/* If argv[*i] is one of the export options below (not -o, --quiet), parse it (advancing *i
 * over its value) and return 1, with *rc a usage-error exit code if its value is bad (else
 * 0); return 0 if it is not one. */
int cli_export_option(const cli_command *cmd, int argc, char **argv, int *i, qc_export_format *fmt,
                      qc_export_options *o, int *rc);
/* What an export wrote (tensors, bytes, quantized as they were / requantized, notes), on stderr. */
void cli_export_report(const cli_command *cmd, const char *in, const qc_graph *g, const char *out,
                       qc_export_format fmt, const qc_export_report *r);
#define CLI_EXPORT_OPTIONS                                                                       \
  "[--format hf|quark|awq|fp8|gguf|onnx|qir] [--weight-format real_quantized|fake_quantized] "   \
  "[--pack-method reorder|order] [--max-shard-size BYTES] [--source DIR] [--gguf-type TYPE] "    \
  "[--gguf-requant-type TYPE] [--gguf-embed-type TYPE] [--name NAME] [--force] [--quiet]"

#define CLI_DECLARE(name) extern const cli_command cli_cmd_##name;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

#endif
