/*
 * quarc/pth.h — PyTorch state dicts as torch.save writes them (model.pth, pytorch_model.bin):
 * a reader that never executes anything and a writer whose files torch.load(...,
 * weights_only=True) accepts.
 *
 * Container (torch.save since PyTorch 1.6): a zip archive of stored (uncompressed) entries
 * under one top-level directory ARCHIVE (the file's stem, or "archive"):
 *   ARCHIVE/data.pkl            the pickled object (protocol 2)
 *   ARCHIVE/data/<key>          the bytes of storage <key>, little-endian, 64-byte aligned
 *   ARCHIVE/byteorder           "little" (optional), ARCHIVE/version "3\n", and others
 * Storages come out as views of the mapped zip, without a copy.
 *
 * The unpickler is a small stack machine over an allow-list. Opcodes: PROTO, FRAME, STOP,
 * MARK, POP, POP_MARK, NONE, NEWTRUE, NEWFALSE, BININT/BININT1/BININT2, LONG1/LONG4 (up to 8
 * bytes), BINFLOAT, BINUNICODE/SHORT_BINUNICODE/BINUNICODE8, EMPTY_TUPLE, TUPLE, TUPLE1-3,
 * EMPTY_LIST, LIST, APPEND, APPENDS, EMPTY_DICT, DICT, SETITEM, SETITEMS, BINPUT,
 * LONG_BINPUT, MEMOIZE, BINGET, LONG_BINGET, GLOBAL, STACK_GLOBAL, REDUCE, BUILD, BINPERSID.
 * Globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor_v3 /
 * _rebuild_parameter, the storage classes torch.FloatStorage ... and
 * torch.storage.UntypedStorage, and the torch dtypes (torch.float8_e4m3fn, ...) that
 * _rebuild_tensor_v3 takes — the globals torch.load(weights_only=True) allows for them.
 * torch.float4_e2m1fn_x2 (a byte of two fp4 values) becomes QC_F4E2M1 with the last
 * dimension doubled, as safetensors' F4 does; the bytes are kept as they are. REDUCE calls
 * only the rebuild functions and OrderedDict(); BUILD only sets the state of a dict (the
 * `_metadata` of a state dict, ignored); BINPERSID resolves ('storage', class, key,
 * location, numel) to ARCHIVE/data/<key>, whose size must be numel elements. Anything else
 * — another global, opcode, or shape of arguments — is an error naming the file, the
 * opcode or global, and its offset in data.pkl.
 *
 * The unpickled object must be a dict; nested dicts (and lists) are flattened with '.'
 * between keys ({"model": {"w": t}} gives "model.w"), as Quark's native export nests them.
 * Values that are not tensors (ints, strings, None, ...) are skipped. A tensor is a view of
 * its storage when contiguous; a non-contiguous one (strides not row-major) is copied into
 * a new contiguous buffer, as is one whose data is not aligned to its element size.
 */
#ifndef QUARC_PTH_H
#define QUARC_PTH_H

#include "quarc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_atomic_dir qc_atomic_dir; /* quarc/io.h */

typedef struct qc_pth qc_pth;

/** Map a .pth file and unpickle its state dict; `*out` is owned by the caller. */
qc_status qc_pth_open(const char *path, qc_pth **out) QC_MUST_USE;
/** The same from a file image in memory; `name` is used in messages. Retains `buf`. */
qc_status qc_pth_open_buffer(qc_buffer *buf, const char *name, qc_pth **out) QC_MUST_USE;
/** Free the reader; tensors obtained from it stay valid. NULL is ignored. */
void qc_pth_close(qc_pth *p);

const char *qc_pth_path(const qc_pth *p);
/** Number of tensors, in the order the pickle lists them. */
int64_t qc_pth_count(const qc_pth *p);
/** Name of tensor i (flattened with '.'), owned by the reader; NULL out of range. */
const char *qc_pth_name(const qc_pth *p, int64_t i);
/** Index of the tensor called `name`, or -1. */
int64_t qc_pth_find(const qc_pth *p, const char *name);
/** Tensor i; owned by the caller (qc_tensor_release). */
qc_status qc_pth_tensor(const qc_pth *p, int64_t i, qc_tensor *out) QC_MUST_USE;
/** The tensor called `name`; QC_CODE_NOT_FOUND naming the file and tensor if absent. */
qc_status qc_pth_get(const qc_pth *p, const char *name, qc_tensor *out) QC_MUST_USE;
/** Whether tensor i had to be copied (non-contiguous or misaligned in the file). */
bool qc_pth_is_copy(const qc_pth *p, int64_t i);
/** Check the CRC-32 of every entry of the archive (reads all the data). */
qc_status qc_pth_verify(const qc_pth *p) QC_MUST_USE;

typedef struct qc_pth_write_options {
  const char *archive_name; /**< the top-level directory in the zip; NULL: "archive" */
  bool force_zip64;         /**< write zip64 records even when not needed (to test readers) */
} qc_pth_write_options;

/** Write tensors as a state dict (an OrderedDict name -> tensor), atomically: pickle
 *  protocol 2, one storage per tensor, 64-byte aligned stored entries, zip64 when needed.
 *  Dtypes with a torch storage class use _rebuild_tensor_v2; float8, e8m0, uint16/32/64
 *  and f4e2m1 (as float4_e2m1fn_x2, last dimension halved) use _rebuild_tensor_v3 over an
 *  UntypedStorage; others (other sub-byte and block types) are refused. Names must be
 *  unique. */
qc_status qc_pth_write(const char *path, const char *const *names, const qc_tensor *tensors,
                       size_t n) QC_MUST_USE;
qc_status qc_pth_write_opts(const char *path, const char *const *names, const qc_tensor *tensors,
                            size_t n, const qc_pth_write_options *opt) QC_MUST_USE;

/** qc_pth_write_opts into an atomic directory (quarc/io.h): file `name` of `stage`. */
qc_status qc_pth_write_in(qc_atomic_dir *stage, const char *name, const char *const *names,
                          const qc_tensor *tensors, size_t n,
                          const qc_pth_write_options *opt) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
