/* quarc run — execute a model on the reference interpreter with inputs from files.
 *
 *   quarc run MODEL -i FILE|NAME=FILE ... -o OUTDIR [--npy] [--threads N] [--kv-cache]
 *
 * Inputs are .pb (TensorProto, or SequenceProto/OptionalProto for such graph inputs) or
 * .npy files, given in graph-input order or by name. Each input is checked against the
 * graph input's type (kind, dtype, rank, static dims, and symbolic dims bound alike
 * across inputs). Graph output j is written to OUTDIR/output_<j>.pb, and with --npy also
 * to OUTDIR/output_<j>.npy (a sequence's items to output_<j>_<k>.npy).
 * --kv-cache builds a Hugging Face decoder with its KV-cache inputs and outputs
 * (past_key_values.<i>.key/value -> present.<i>.key/value, see docs/models.md).
 */
#include "quarc/models.h"
#include "quarc/tensor_io.h"
#include "tools/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bindings of symbolic dims seen so far (sym -> value). */
typedef struct binding {
  int64_t sym, value;
  const char *input;
} binding;

static qc_status check_tensor(const qc_graph *g, const qc_value *in, const char *file,
                              const qc_tensor *t, binding *b, int *nb) {
  const qc_type *ty = &in->type;
  char want[256], got[256];
  qc_type tt = qc_type_tensor(t->dtype, t->rank, t->dims);
  qc_type_format(g, ty, want, sizeof want);
  qc_type_format(g, &tt, got, sizeof got);
  if (ty->dtype && ty->dtype != t->dtype)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "input '%s' (%s): dtype %s does not match the graph input's %s (%s)",
                         in->name, file, qc_dtype_name(t->dtype), qc_dtype_name(ty->dtype), want);
  if (ty->rank >= 0 && ty->rank != t->rank)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "input '%s' (%s): shape %s does not match the graph input's %s",
                         in->name, file, got, want);
  for (int32_t d = 0; ty->rank >= 0 && d < ty->rank; d++) {
    int64_t dim = ty->dims[d];
    if (dim >= 0 && dim != t->dims[d])
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "input '%s' (%s): shape %s does not match the graph input's %s",
                           in->name, file, got, want);
    if (dim >= 0 || dim == QC_DIM_UNKNOWN) continue;
    int k = 0;
    while (k < *nb && b[k].sym != dim) k++;
    if (k == *nb) {
      if (*nb < 256) b[(*nb)++] = (binding){dim, t->dims[d], in->name};
    } else if (b[k].value != t->dims[d]) {
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "input '%s' (%s): dimension '%s' is %lld here but %lld in input '%s'",
                           in->name, file, qc_graph_sym_name(g, dim), (long long)t->dims[d],
                           (long long)b[k].value, b[k].input);
    }
  }
  return QC_OK;
}

/* Read the file for graph input `in` and turn it into an interpreter value. */
static qc_status load_input(const qc_graph *g, const qc_value *in, const char *file, qc_rvalue *out,
                            binding *b, int *nb) {
  int kind = in->type.kind;
  qc_data_value d;
  QC_RETURN_IF_ERROR(qc_status_wrap(qc_value_read_file(file, kind, &d), "input '%s'", in->name));
  qc_status s = QC_OK;
  memset(out, 0, sizeof *out);
  bool optional = kind == QC_TYPE_OPTIONAL || kind == QC_TYPE_OPTIONAL_SEQUENCE;
  out->optional = optional;
  out->elem = d.elem ? d.elem : in->type.dtype;
  if (optional && !d.present) {
    out->kind = QC_RV_NONE;
  } else if (kind == QC_TYPE_TENSOR || kind == QC_TYPE_OPTIONAL) {
    s = check_tensor(g, in, file, &d.tensor, b, nb);
    if (!s) {
      *out = qc_rvalue_tensor(&d.tensor);
      out->optional = optional;
    }
  } else {
    for (int32_t i = 0; i < d.n_items && !s; i++)
      if (in->type.dtype && d.items[i].dtype != in->type.dtype)
        s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                          "input '%s' (%s): item %d has dtype %s, the graph input's items %s",
                          in->name, file, i, qc_dtype_name(d.items[i].dtype),
                          qc_dtype_name(in->type.dtype));
    if (!s) {
      out->kind = QC_RV_SEQUENCE;
      out->n_items = d.n_items;
      out->items = d.items; /* taken over */
      d.items = NULL;
      d.n_items = 0;
    }
  }
  qc_data_value_release(&d);
  return s;
}

static qc_status write_output(const qc_graph *g, int32_t j, const qc_rvalue *v, const char *dir,
                              bool npy) {
  const qc_value *val = qc_graph_value(g, qc_graph_output(g, j));
  char path[4096];
  qc_data_value d;
  memset(&d, 0, sizeof d);
  d.name = (char *)val->name;
  d.elem = v->elem;
  bool optional = v->optional || val->type.kind == QC_TYPE_OPTIONAL ||
                  val->type.kind == QC_TYPE_OPTIONAL_SEQUENCE;
  d.present = v->kind != QC_RV_NONE;
  if (v->kind == QC_RV_TENSOR) {
    d.kind = optional ? QC_TYPE_OPTIONAL : QC_TYPE_TENSOR;
    d.tensor = v->t;
  } else if (v->kind == QC_RV_SEQUENCE) {
    d.kind = optional ? QC_TYPE_OPTIONAL_SEQUENCE : QC_TYPE_SEQUENCE;
    d.n_items = v->n_items;
    d.items = v->items;
  } else {
    d.kind = val->type.kind == QC_TYPE_OPTIONAL_SEQUENCE ? QC_TYPE_OPTIONAL_SEQUENCE
                                                         : QC_TYPE_OPTIONAL;
  }
  snprintf(path, sizeof path, "%s/output_%d.pb", dir, j);
  QC_RETURN_IF_ERROR(qc_value_write_pb(path, &d));
  char desc[256] = "empty";
  if (v->kind == QC_RV_TENSOR) {
    qc_type t = qc_type_tensor(v->t.dtype, v->t.rank, v->t.dims);
    qc_type_format(g, &t, desc, sizeof desc);
  } else if (v->kind == QC_RV_SEQUENCE) {
    snprintf(desc, sizeof desc, "sequence of %d", v->n_items);
  }
  printf("%s: '%s' %s\n", path, val->name, desc);
  if (!npy) return QC_OK;
  if (v->kind == QC_RV_TENSOR) {
    snprintf(path, sizeof path, "%s/output_%d.npy", dir, j);
    QC_RETURN_IF_ERROR(qc_tensor_write_npy(path, &v->t));
  } else if (v->kind == QC_RV_SEQUENCE) {
    for (int32_t k = 0; k < v->n_items; k++) {
      snprintf(path, sizeof path, "%s/output_%d_%d.npy", dir, j, k);
      QC_RETURN_IF_ERROR(qc_tensor_write_npy(path, &v->items[k]));
    }
  }
  return QC_OK;
}

static int run_run(int argc, char **argv);
const cli_command cli_cmd_run = {
    "run", "execute a model on the reference interpreter",
    "quarc run MODEL -i FILE|NAME=FILE ... -o OUTDIR [--npy] [--threads N] [--kv-cache]\n"
    "  inputs (.pb or .npy) in graph-input order or by name; writes OUTDIR/output_<j>.pb\n"
    "  (and output_<j>.npy with --npy) for each graph output; --kv-cache: a Hugging Face\n"
    "  decoder's graph with past_key_values.* inputs and present.* outputs",
    run_run};

static int run_run(int argc, char **argv) {
  const char *model = NULL, *outdir = NULL;
  bool npy = false, kv_cache = false;
  int threads = 0;
  const char **ins = calloc((size_t)argc + 1, sizeof *ins);
  int n_ins = 0;
  if (!ins) return cli_fail(qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0) && i + 1 < argc) ins[n_ins++] = argv[++i];
    else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) outdir = argv[++i];
    else if (strcmp(a, "--npy") == 0) npy = true;
    else if (strcmp(a, "--kv-cache") == 0) kv_cache = true;
    else if (strcmp(a, "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (a[0] == '-' && a[1]) {
      free(ins);
      return cli_usage_error(&cli_cmd_run, "unknown option '%s'", a);
    } else if (!model) model = a;
    else {
      free(ins);
      return cli_usage_error(&cli_cmd_run, "unexpected argument '%s'", a);
    }
  }
  if (!model || !outdir) {
    free(ins);
    return cli_usage_error(&cli_cmd_run, "%s", !model ? "no model given" : "no output directory (-o)");
  }
  if (kv_cache && qc_format_from_path(model) != QC_FORMAT_HF) {
    free(ins);
    return cli_usage_error(&cli_cmd_run, "--kv-cache needs a Hugging Face model directory");
  }
  qc_graph *g;
  qc_build_options bo = {.kv_cache = true};
  qc_status s = kv_cache ? qc_hf_load(model, &bo, &g) : qc_model_load(model, QC_FORMAT_AUTO, &g);
  if (s) {
    free(ins);
    return cli_fail(s);
  }
  int32_t n_in = qc_graph_num_inputs(g), n_out = qc_graph_num_outputs(g);
  const char **files = calloc((size_t)n_in + 1, sizeof *files);
  qc_rvalue *in = calloc((size_t)n_in + 1, sizeof *in);
  qc_rvalue *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!files || !in || !out) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  /* Assign files to inputs: NAME=FILE by name, the others in order. */
  int32_t next = 0;
  for (int k = 0; k < n_ins && !s; k++) {
    const char *a = ins[k], *eq = strchr(a, '=');
    int32_t slot = -1;
    if (eq) {
      for (int32_t i = 0; i < n_in; i++) {
        const char *nm = qc_graph_value(g, qc_graph_input(g, i))->name;
        if (strlen(nm) == (size_t)(eq - a) && strncmp(nm, a, (size_t)(eq - a)) == 0) slot = i;
      }
      if (slot >= 0) a = eq + 1;
    }
    if (slot < 0) {
      while (next < n_in && files[next]) next++;
      if (next == n_in) {
        s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the model has %d input(s); '%s' is one too many",
                          model, n_in, a);
        break;
      }
      slot = next;
    }
    if (files[slot])
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "input '%s' is given twice ('%s' and '%s')",
                        qc_graph_value(g, qc_graph_input(g, slot))->name, files[slot], a);
    files[slot] = a;
  }
  for (int32_t i = 0; i < n_in && !s; i++)
    if (!files[i]) {
      const char *nm = qc_graph_value(g, qc_graph_input(g, i))->name;
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "input %d '%s' has no file (pass -i FILE in input order, or -i %s=FILE)", i,
                        nm, nm);
    }
  binding b[256];
  int nb = 0;
  for (int32_t i = 0; i < n_in && !s; i++)
    s = load_input(g, qc_graph_value(g, qc_graph_input(g, i)), files[i], &in[i], b, &nb);
  if (!s && mkdir(outdir, 0777) != 0 && errno != EEXIST)
    s = qc_status_new(QC_CODE_IO, "%s: cannot create the output directory: %s", outdir,
                      strerror(errno));
  if (!s) {
    qc_interp_options o = {.n_threads = threads};
    s = qc_run_graph(g, &o, n_in, in, n_out, out);
  }
  for (int32_t j = 0; j < n_out && !s; j++) s = write_output(g, j, &out[j], outdir, npy);
  for (int32_t i = 0; in && i < n_in; i++) qc_rvalue_release(&in[i]);
  for (int32_t j = 0; out && j < n_out; j++) qc_rvalue_release(&out[j]);
  free(in);
  free(out);
  free(files);
  free(ins);
  qc_graph_destroy(g);
  return s ? cli_fail(s) : 0;
}
