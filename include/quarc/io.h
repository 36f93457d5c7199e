/*
 * quarc/io.h — loading and saving models by file name.
 *
 * One entry point per direction that picks the format from the path: `.qir`
 * (quarc's text IR), `.onnx`, and (as the frontends land) Hugging Face
 * directories, `.gguf` and `.safetensors`. Writers are atomic: they write a
 * temporary file beside the target and rename it, so a failure leaves no
 * partial output.
 */
#ifndef QUARC_IO_H
#define QUARC_IO_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qc_format {
  QC_FORMAT_AUTO = 0,
  QC_FORMAT_QIR = 1,
  QC_FORMAT_ONNX = 2,
  QC_FORMAT_HF = 3,   /**< a Hugging Face directory (config.json + safetensors) */
  QC_FORMAT_GGUF = 4, /**< a GGUF file of a llama-family model (qc_gguf_load) */
} qc_format;

/** Whether a Hugging Face directory holds a quantized checkpoint (its config.json has a
 *  quantization_config, or it has Quark's model_state_dict.pth): qc_hf_load reads those
 *  with qc_hf_quant_load. */
bool qc_hf_is_quantized(const char *dir);

/** The format implied by a path ("m.onnx" -> ONNX), QC_FORMAT_AUTO if none. */
qc_format qc_format_from_path(const char *path);

qc_status qc_model_load(const char *path, qc_format fmt, qc_graph **out) QC_MUST_USE;

/** The whole of a file (a pipe too) in a malloc'd buffer with a NUL after its `*len` bytes,
 *  for the text formats read whole (JSON configs, calibration and evaluation text). The
 *  caller frees `*text` with free(). Errors name the path; QC_CODE_NOT_FOUND when it does
 *  not exist. Binary formats map files instead (qc_buffer_map_file). */
qc_status qc_read_file(const char *path, char **text, size_t *len) QC_MUST_USE;
qc_status qc_model_save(const qc_graph *g, const char *path, qc_format fmt) QC_MUST_USE;

/** Atomic file writing used by every writer: open `<path>.tmp.<pid>`, write, fsync,
 *  rename over `path`; on any failure the temporary is removed. */
typedef struct qc_atomic_file qc_atomic_file;
qc_status qc_atomic_open(const char *path, qc_atomic_file **out) QC_MUST_USE;
qc_status qc_atomic_write(qc_atomic_file *f, const void *data, size_t n) QC_MUST_USE;
/** Current write offset. */
uint64_t qc_atomic_tell(const qc_atomic_file *f);
/** Commit (rename into place) and free. */
qc_status qc_atomic_commit(qc_atomic_file *f) QC_MUST_USE;
/** Discard the temporary and free (safe on NULL). */
void qc_atomic_abort(qc_atomic_file *f);

/** A directory written atomically (model directories: config.json, shards, tokenizer).
 *  Its files are written as unnamed temporaries (O_TMPFILE) in the parent of `path`, so a
 *  process killed while writing leaves nothing behind; qc_atomic_dir_commit links them
 *  into a hidden sibling ".<name>.quarc-tmp.<pid>", fsyncs it and renames it to `path` in
 *  one step. An existing `path` is refused unless `replace` is set: then it must be a
 *  directory, which is swapped out atomically (renameat2 RENAME_EXCHANGE) and deleted.
 *  Hidden siblings left by a process that was killed during the commit itself (a window of
 *  a few system calls) are removed by the next qc_atomic_dir_open of the same path, once
 *  their process is gone. Where O_TMPFILE is unsupported, files are staged as named
 *  hidden siblings and removed on failure. */
typedef struct qc_atomic_dir qc_atomic_dir;
qc_status qc_atomic_dir_open(const char *path, bool replace, qc_atomic_dir **out) QC_MUST_USE;
/** The target path. */
const char *qc_atomic_dir_path(const qc_atomic_dir *d);
/** Start file `name` (one path component) of the directory. qc_atomic_commit of the
 *  returned file stages it (it appears with the directory); qc_atomic_abort drops it. */
qc_status qc_atomic_dir_file(qc_atomic_dir *d, const char *name, qc_atomic_file **out) QC_MUST_USE;
/** Like qc_atomic_open when `d` is NULL; else qc_atomic_dir_file(d, name). */
qc_status qc_atomic_open_in(qc_atomic_dir *d, const char *name, qc_atomic_file **out) QC_MUST_USE;
/** Put the directory in place and free `d` (also on failure, which leaves nothing). */
qc_status qc_atomic_dir_commit(qc_atomic_dir *d) QC_MUST_USE;
/** Drop everything staged and free (safe on NULL). */
void qc_atomic_dir_abort(qc_atomic_dir *d);

#ifdef __cplusplus
}
#endif
#endif
