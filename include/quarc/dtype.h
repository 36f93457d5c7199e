/*
 * quarc/dtype.h — element types: one traits table, every conversion written once.
 *
 * Each qc_dtype has a row in the traits table (qc_dtype_traits()): its width,
 * integer range or float layout (exponent/mantissa bits, bias, max normal,
 * Inf/NaN rules) and its name or code in ONNX, safetensors, GGUF and Quark.
 *
 * Storage. Elements of fewer than 8 bits are stored as a dense little-endian
 * bit stream: element i occupies bits [i*b, i*b+b) of the byte array, least
 * significant bit first. This single rule is ONNX's int4/fp4 layout (low
 * nibble first), ONNX's 2-bit layout, Quark's fp6 "4 values in 3 bytes" and
 * Quark's int3 "8 values in 3 bytes". A tensor of n elements of a sub-byte
 * type takes ceil(n*b/8) bytes. Other layouts (Quark's int32 words, GGUF's
 * j/j+16 nibble pairing) are produced by the pack functions below.
 *
 * Block types (GGUF Q4_0..Q8_K, MX blocks) group block_elems elements into
 * block_bytes bytes; a row length must be a multiple of block_elems.
 *
 *     double v = qc_float_decode(QC_F8E4M3FN, 0x7e);               // 448
 *     uint32_t c = qc_float_encode(QC_F8E4M3FN, 500.0, QC_ENC_SATURATE); // 0x7e
 */
#ifndef QUARC_DTYPE_H
#define QUARC_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Element types. Values are stable: append only, never renumber. */
typedef enum qc_dtype {
  QC_DT_UNDEFINED = 0,
  QC_F32 = 1,
  QC_F64 = 2,
  QC_F16 = 3,
  QC_BF16 = 4,
  QC_I64 = 5,
  QC_I32 = 6,
  QC_I16 = 7,
  QC_I8 = 8,
  QC_I4 = 9,
  QC_I3 = 10,
  QC_I2 = 11,
  QC_U64 = 12,
  QC_U32 = 13,
  QC_U16 = 14,
  QC_U8 = 15,
  QC_U4 = 16,
  QC_U2 = 17,
  QC_BOOL = 18,
  QC_F8E4M3FN = 19,
  QC_F8E4M3FNUZ = 20,
  QC_F8E5M2 = 21,
  QC_F8E5M2FNUZ = 22,
  QC_F6E2M3 = 23,
  QC_F6E3M2 = 24,
  QC_F4E2M1 = 25,
  QC_E8M0 = 26,  /**< OCP MX scale: 2^(e-127), 0xFF = NaN, no sign, no zero */
  QC_E5M3 = 27,  /**< Quark's unsigned scale format: bias 15, 0xFF = NaN, max 114688 */
  QC_STRING = 28,/**< element = const char* (owned by the tensor's buffer) */
  QC_C64 = 29,   /**< complex64: (re, im) float pairs */
  QC_C128 = 30,
  /* Block types. */
  QC_Q4_0 = 31,
  QC_Q4_1 = 32,
  QC_Q5_0 = 33,
  QC_Q5_1 = 34,
  QC_Q8_0 = 35,
  QC_Q8_1 = 36,
  QC_Q2_K = 37,
  QC_Q3_K = 38,
  QC_Q4_K = 39,
  QC_Q5_K = 40,
  QC_Q6_K = 41,
  QC_Q8_K = 42,
  QC_GGML_MXFP4 = 43, /**< ggml's MXFP4 block: e8m0 byte, 16 bytes, j/j+16 nibbles */
  QC_MXFP4 = 44,      /**< OCP MX block: e8m0 scale byte + 32 fp4 (low nibble first) */
  QC_MXFP6E2M3 = 45,  /**< e8m0 + 32 fp6 e2m3 as a 24-byte bit stream */
  QC_MXFP6E3M2 = 46,
  QC_MXFP8E4M3 = 47,  /**< e8m0 + 32 fp8 e4m3fn */
  QC_MXFP8E5M2 = 48,
  QC_MXINT8 = 49,     /**< e8m0 + 32 int8, element value = q * 2^-6 */
  QC_UE4M3 = 50,      /**< unsigned e4m3 (ggml NVFP4 block scale): bias 7, 0x7F = NaN */
  QC_DTYPE_COUNT = 51
} qc_dtype;

typedef enum qc_dtype_kind {
  QC_KIND_NONE = 0,
  QC_KIND_FLOAT = 1,   /**< IEEE-like binary float (also fp8/fp6/fp4/e8m0) */
  QC_KIND_INT = 2,     /**< two's-complement or unsigned integer */
  QC_KIND_BOOL = 3,
  QC_KIND_STRING = 4,
  QC_KIND_COMPLEX = 5,
  QC_KIND_BLOCK = 6,   /**< block-quantized */
} qc_dtype_kind;

/** How a float format spends its top codes. */
typedef enum qc_nan_rule {
  QC_NAN_IEEE = 0, /**< exponent all ones: mantissa 0 = Inf, else NaN */
  QC_NAN_FN = 1,   /**< no Inf; only exponent and mantissa all ones = NaN (e4m3fn, e5m3) */
  QC_NAN_FNUZ = 2, /**< no Inf, no -0; the code 1000..0 is the single NaN */
  QC_NAN_NONE = 3, /**< no Inf and no NaN (fp6, fp4) */
  QC_NAN_E8M0 = 4, /**< 0xFF is NaN, no zero, no sign */
} qc_nan_rule;

typedef struct qc_dtype_traits {
  const char *name;       /**< quarc's name, used in .qir: "f32", "i4", "f8e4m3fn", "q4_0" */
  uint16_t bits;          /**< bits per element; for blocks bits per block */
  uint16_t block_elems;   /**< 1, or elements per block */
  uint16_t block_bytes;   /**< bytes per block (0 for non-block sub-byte types) */
  uint8_t kind;           /**< qc_dtype_kind */
  uint8_t is_signed;
  /* Float layout (kind FLOAT). */
  uint8_t ebits, mbits;
  int16_t bias;
  uint8_t nan_rule;       /**< qc_nan_rule */
  double max_normal;      /**< largest finite value */
  /* Integer range (kind INT/BOOL). */
  int64_t imin;
  uint64_t imax;
  /* Block types: element type and scale type of an MX block. */
  qc_dtype block_elem, block_scale;
  /* Names elsewhere (0 / NULL where the format has none). */
  int onnx;                /**< TensorProto.DataType */
  const char *safetensors; /**< "F32", "F8_E4M3", ... */
  int gguf;                /**< ggml_type, -1 if none */
  const char *quark;       /**< Quark Dtype value: "int8", "fp8_e4m3", "fp4", ... */
} qc_dtype_traits;

/** The traits row; a row of QC_DT_UNDEFINED for out-of-range values. */
const qc_dtype_traits *qc_dtype_traits_of(qc_dtype dt);
static inline const char *qc_dtype_name(qc_dtype dt) { return qc_dtype_traits_of(dt)->name; }
/** Look up by quarc name ("f32"); QC_DT_UNDEFINED if unknown. */
qc_dtype qc_dtype_from_name(const char *name);
qc_dtype qc_dtype_from_onnx(int onnx_code);
qc_dtype qc_dtype_from_safetensors(const char *s);
qc_dtype qc_dtype_from_gguf(int ggml_type);
qc_dtype qc_dtype_from_quark(const char *s);

bool qc_dtype_is_float(qc_dtype dt);   /**< FLOAT kind (incl. f16, fp8, fp4, e8m0) */
bool qc_dtype_is_int(qc_dtype dt);     /**< INT kind */
bool qc_dtype_is_block(qc_dtype dt);
/** Bytes taken by n elements (n a multiple of block_elems for block types);
 *  SIZE_MAX on overflow. Strings count sizeof(char*). */
size_t qc_dtype_nbytes(qc_dtype dt, uint64_t n);

/* ---- float element conversion ------------------------------------------------------------ */

/** Encoding options for qc_float_encode. Rounding defaults to round-half-to-even. */
enum {
  QC_ENC_SATURATE = 1u << 0,   /**< out of range (and ±Inf) -> ±max instead of Inf/NaN */
  QC_ENC_ROUND_AWAY = 1u << 1, /**< round half away from zero */
  QC_ENC_ROUND_FLOOR = 1u << 2,/**< toward -inf */
  QC_ENC_ROUND_CEIL = 1u << 3, /**< toward +inf */
  QC_ENC_ROUND_TRUNC = 1u << 4,/**< toward zero */
  QC_ENC_UNSIGNED_ZERO = 1u << 5, /**< a value that rounds to zero encodes +0 (Quark fp4/fp6) */
};

/** Encode a real number into the code of float dtype `dt` (f16, bf16, fp8*, fp6*, fp4,
 *  e8m0, e5m3, ue4m3; f32 returns the IEEE bits). Rules, as ONNX and the OCP spec give
 *  them: NaN -> the format's NaN (fp4/fp6, which have none: +max, as ONNX maps NaN -> 6);
 *  |x| beyond max -> Inf where the format has one, else NaN, or ±max with SATURATE
 *  (formats without Inf/NaN always saturate); -0 -> +0 for FNUZ and unsigned formats;
 *  negative values -> 0 for unsigned formats (NaN for e8m0, which has no zero). */
uint32_t qc_float_encode(qc_dtype dt, double x, unsigned flags);
/** The exact value of a code (NaN/Inf included). */
double qc_float_decode(qc_dtype dt, uint32_t code);

/** Fast paths used in kernels; equal to qc_float_encode/decode. */
uint16_t qc_f32_to_f16(float x);
float qc_f16_to_f32(uint16_t h);
uint16_t qc_f32_to_bf16(float x);
float qc_bf16_to_f32(uint16_t h);

/** Round a double with the QC_ENC_ROUND_* mode in `flags` (RNE when none is set). */
double qc_round(double x, unsigned flags);

/* ---- element access in dense storage ----------------------------------------------------- */

/** Raw code of element i (bit pattern, zero-extended; for sub-byte types read from the
 *  LSB-first bit stream). Not for strings, complex or block types. */
uint64_t qc_elem_code(qc_dtype dt, const void *base, size_t i);
void qc_elem_set_code(qc_dtype dt, void *base, size_t i, uint64_t code);
/** Element i as a double (ints converted exactly where representable). */
double qc_elem_f64(qc_dtype dt, const void *base, size_t i);
/** Element i as an int64 (floats truncated toward zero; u64 reinterpreted). */
int64_t qc_elem_i64(qc_dtype dt, const void *base, size_t i);
/** Store a double: floats with qc_float_encode(flags); ints round with `flags`'s rounding
 *  mode (RNE default), then saturate to the range; bool = (x != 0). */
void qc_elem_set_f64(qc_dtype dt, void *base, size_t i, double x, unsigned flags);
/** Store a double with ONNX Cast / numpy astype rules: floats with qc_float_encode(flags);
 *  ints truncate toward zero, then wrap (NaN and values beyond the intermediate range give
 *  the x86 "integer indefinite", as numpy does); u64 takes values in [2^63, 2^64) exactly;
 *  bool = (x != 0). */
void qc_elem_cast_f64(qc_dtype dt, void *base, size_t i, double x, unsigned flags);
/** Store an integer: ints wrap (two's complement truncation, as C casts do); floats
 *  convert with rounding to nearest. */
void qc_elem_set_i64(qc_dtype dt, void *base, size_t i, int64_t x);

/** Saturate an integer to the range of integer type dt. */
int64_t qc_int_saturate(qc_dtype dt, int64_t x);

/* ---- bulk conversions -------------------------------------------------------------------- */

/** Convert n elements between any two non-block, non-string dtypes.
 *  float->float: qc_float_encode(flags); float->int: truncation toward zero then wrap
 *  (ONNX Cast, C semantics; NaN -> 0), unless `flags` has a rounding mode, in which case
 *  the value is rounded and saturated (quantization); int->int: wrap; int->float: nearest;
 *  bool <-> numbers: 0/1. */
void qc_convert(qc_dtype src_dt, const void *src, qc_dtype dst_dt, void *dst, size_t n,
                unsigned flags);
void qc_convert_to_f32(qc_dtype src_dt, const void *src, float *dst, size_t n);
/** As qc_convert from f32; block types use qc_block_quantize. False if dst_dt cannot be
 *  produced (a block type without a quantizer, strings). */
bool qc_convert_from_f32(const float *src, qc_dtype dst_dt, void *dst, size_t n, unsigned flags);

/* ---- block types --------------------------------------------------------------------------- */

/** Dequantize n elements (a multiple of the block size) of block type dt to float. */
void qc_block_dequantize(qc_dtype dt, const void *src, float *dst, size_t n);
/** Quantize n floats into block type dt with the reference quantizer of its origin
 *  (ggml's quantize_row_*_ref for GGUF types; OCP floor(log2 amax) - emax scales for MX).
 *  Returns false (writing nothing) for a type without a quantizer here. */
bool qc_block_quantize(qc_dtype dt, const float *src, void *dst, size_t n);
/** Encode one 32-element OCP MX block (QC_MXFP4 .. QC_MXINT8) with a chosen shared exponent:
 *  scale 2^scale_exp (below -127 clamps to -127; above 127 gives the NaN scale 0xFF).
 *  Elements are x / scale rounded half to even and saturated. */
void qc_mx_block_encode(qc_dtype dt, const float *x, int scale_exp, uint8_t *out);

/* ---- packings used by file formats -------------------------------------------------------- */

/** Quark's int32 packing of 4-bit codes: word c holds elements 8c..8c+7. `reorder`
 *  (AutoAWQ order) puts element order_map[i] = {0,2,4,6,1,3,5,7}[i] in nibble i; otherwise
 *  nibble i holds element i. `codes` are 4-bit codes (two's complement nibbles for int4),
 *  one per byte. A partial last word is zero padded. n_words = ceil(n/8). */
void qc_pack_int4_words(const uint8_t *codes, size_t n, bool reorder, uint32_t *words);
void qc_unpack_int4_words(const uint32_t *words, size_t n, bool reorder, uint8_t *codes);
/** GGUF nibble pairing for one 32-element block: byte j = code[j] | code[j+16] << 4. */
void qc_pack_nibbles_j16(const uint8_t codes[32], uint8_t out[16]);
void qc_unpack_nibbles_j16(const uint8_t in[16], uint8_t codes[32]);
/** Dense LSB-first bit stream of `bits`-bit codes (one per byte in `codes`). */
void qc_pack_bits(const uint8_t *codes, size_t n, int bits, uint8_t *out);
void qc_unpack_bits(const uint8_t *in, size_t n, int bits, uint8_t *codes);

#ifdef __cplusplus
}
#endif
#endif
