/*
 * quarc/pass.h — passes, pipelines and plugins.
 *
 * A pass is a descriptor {name, summary, options, run} registered in a
 * qc_context. Pipelines are text: "dce,fold,cse,canonicalize{max-iterations=4}".
 * Options are typed (bool, int, float, string) and checked when the pipeline is
 * parsed; unknown passes and options are errors that say what exists. Running a
 * pipeline can verify the graph after each pass, and reports each pass (name,
 * time, graph) to a callback that a tool uses for --print-after and timing.
 *
 * Plugins are shared objects exporting
 *     qc_status quarc_plugin_init(qc_context *ctx);
 * that register passes (and ops and kernels) through this same API. Built-in
 * passes are registered exactly the same way. A plugin resolves quarc's API from
 * the process that loads it (the quarc tool exports it; see docs/passes.md).
 *
 *     static const qc_pass_option opts[] = {{"max-iterations", QC_OPT_INT, "4", "fixpoint limit"}};
 *     static qc_status run(qc_graph *g, const qc_pass_args *a, void *user) {
 *       int64_t n = qc_pass_arg_int(a, "max-iterations"); ...
 *     }
 *     static const qc_pass_info info = {"my-pass", "does things", opts, 1, run, NULL};
 *     qc_status quarc_plugin_init(qc_context *ctx) { return qc_pass_register(ctx, &info); }
 */
#ifndef QUARC_PASS_H
#define QUARC_PASS_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_context qc_context;

/** A context with every built-in pass registered. */
qc_status qc_context_create(qc_context **out) QC_MUST_USE;
void qc_context_destroy(qc_context *ctx);

typedef enum qc_opt_kind {
  QC_OPT_BOOL = 0,
  QC_OPT_INT = 1,
  QC_OPT_FLOAT = 2,
  QC_OPT_STRING = 3,
} qc_opt_kind;

typedef struct qc_pass_option {
  const char *name;  /**< kebab-case */
  qc_opt_kind kind;
  const char *dflt;  /**< default, as text; NULL = required */
  const char *help;
} qc_pass_option;

typedef struct qc_pass_args qc_pass_args;
bool qc_pass_arg_bool(const qc_pass_args *a, const char *name);
int64_t qc_pass_arg_int(const qc_pass_args *a, const char *name);
double qc_pass_arg_float(const qc_pass_args *a, const char *name);
/** The string value ("" if unset with no default). */
const char *qc_pass_arg_string(const qc_pass_args *a, const char *name);
/** Whether the option was given explicitly in the pipeline. */
bool qc_pass_arg_given(const qc_pass_args *a, const char *name);

typedef struct qc_pass_info {
  const char *name;
  const char *summary;
  const qc_pass_option *options;
  int32_t n_options;
  /** Transform g in place. Must leave a valid graph (verified with verify-each). */
  qc_status (*run)(qc_graph *g, const qc_pass_args *args, void *user);
  void *user;
} qc_pass_info;

/** Register a pass. The descriptor (and what it points to) must outlive the context.
 *  Fails (naming the pass) on a duplicate or malformed name, a duplicate option, or a
 *  default that is not a valid value of its option's kind. */
qc_status qc_pass_register(qc_context *ctx, const qc_pass_info *info) QC_MUST_USE;
const qc_pass_info *qc_pass_find(const qc_context *ctx, const char *name);
int32_t qc_pass_count(const qc_context *ctx);
const qc_pass_info *qc_pass_at(const qc_context *ctx, int32_t i);

typedef struct qc_pipeline qc_pipeline;

/** Parse "a,b{opt=v,flag},c". Errors point at the column: "pipeline:1:5: error: unknown
 *  pass 'x' (known: ...)". Grammar (whitespace allowed between tokens):
 *      pipeline := [ entry { ',' entry } ]
 *      entry    := pass-name [ '{' [ option { ',' option } ] '}' ]
 *      option   := name [ '=' value ]        (a bare name sets a bool option to true)
 *      value    := bare | '"' chars '"' | "'" chars "'"   (backslash escapes in quotes)
 *  bool values: true/false/1/0; int: decimal or 0x hex; float: as strtod. */
qc_status qc_pipeline_parse(qc_context *ctx, const char *text, qc_pipeline **out) QC_MUST_USE;
void qc_pipeline_destroy(qc_pipeline *p);
/** The canonical text of a pipeline (every option spelled out). malloc'd. */
char *qc_pipeline_str(const qc_pipeline *p);

typedef struct qc_pipeline_options {
  bool verify_each; /**< run qc_graph_verify after every pass */
  /** Called after each pass with its name, the graph and the wall time it took. */
  void (*after_pass)(void *user, const char *pass, const qc_graph *g, double seconds);
  void *user;
} qc_pipeline_options;

/** Run the passes in order (opts may be NULL). Errors name the pass ("pass 'fold': ...",
 *  "after pass 'cse': verify: ..."). On error the graph may be partly transformed: clone
 *  it first if the original must survive. */
qc_status qc_pipeline_run(const qc_pipeline *p, qc_graph *g,
                          const qc_pipeline_options *opts) QC_MUST_USE;

/** Marks a plugin's exported symbols (plugins are best built with hidden visibility). */
#if defined(__GNUC__)
#define QC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define QC_PLUGIN_EXPORT
#endif

/** The plugin ABI version. A plugin may export `const int quarc_plugin_abi_version =
 *  QC_PLUGIN_ABI_VERSION;`; when it does, qc_plugin_load refuses a mismatch. */
#define QC_PLUGIN_ABI_VERSION 1

/** Load a plugin shared object and call its quarc_plugin_init(ctx). A path without a
 *  '/' is searched for as dlopen does. Loading the same object into the same context
 *  twice is a no-op. If init fails, the passes it registered are unregistered again.
 *  Plugins stay loaded until the process exits: the ops and kernels they register live
 *  in process-wide tables. */
qc_status qc_plugin_load(qc_context *ctx, const char *path) QC_MUST_USE;

/** The number of entries of a pipeline, and the pass and arguments of entry i. */
int32_t qc_pipeline_num_passes(const qc_pipeline *p);
const qc_pass_info *qc_pipeline_pass_at(const qc_pipeline *p, int32_t i);
const qc_pass_args *qc_pipeline_args_at(const qc_pipeline *p, int32_t i);

/** Parse option text as the option kind would ("true", "4", "0.5", "'a b'"): used to
 *  check defaults. Returns false if the text is not a valid value of that kind. */
bool qc_pass_option_valid(qc_opt_kind kind, const char *text);

#ifdef __cplusplus
}
#endif
#endif
