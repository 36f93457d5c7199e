/*
 * quarc/rewrite.h — the generic pattern -> callback rewriter.
 *
 * Local rewrites are written as a table of rules, each a pattern and a callback, in the
 * manner of tinygrad's PatternMatcher. A pattern describes a value by how it is defined:
 *
 *   QC_PAT_ANY     any (present) value
 *   QC_PAT_OP      the output of a node of a given op, whose inputs match sub-patterns
 *   QC_PAT_CONST   a constant (a graph initializer)
 *   QC_PAT_SPLAT   a constant whose every element equals a number (x*1, x+0)
 *
 * Every pattern may capture the value it matched into a numbered slot (0..15; -1: no
 * capture) and may carry a predicate. Capturing the same slot twice requires both places to
 * hold the same value (x - x). Binary ops flagged QC_OPF_COMMUTATIVE also match with their
 * inputs swapped. The root of a rule's pattern is an op pattern; it matches a node.
 *
 * The driver (qc_rewrite_apply) visits every live node in order, tries the rules in table
 * order, and calls the callback of the first rule whose pattern matches. The callback edits
 * the graph: it may add nodes and constants (qc_graph_add_*), and replaces values with
 * qc_rewriter_replace, which keeps graph outputs' names. After each sweep, nodes that the
 * rewrites left unused are erased, the graph is sorted topologically, and another sweep
 * starts, until a sweep changes nothing or max_iterations is reached. Finally the graph
 * is compacted (qc_graph_compact: erased nodes and unused constants go) and types are
 * re-inferred. Nodes that were already unused are left alone (that is DCE's job).
 *
 * Worked example — Relu(Relu(x)) -> Relu(x). Patterns and tables are written at file
 * scope, where compound literals have static storage:
 *
 *     static qc_status relu_relu(qc_rewriter *rw, const qc_match *m, void *user) {
 *       // slot 0: the outer Relu's output; slot 1: the inner one's
 *       if (!qc_rewriter_can_replace(rw, m->cap[0], m->cap[1])) return QC_OK;  // declined
 *       return qc_rewriter_replace(rw, m->cap[0], m->cap[1]);
 *     }
 *
 *     static const qc_rewrite_rule RULES[] = {
 *         {"relu-relu", QC_PAT_OP1(QC_OP_Relu, 0, QC_PAT_OP1(QC_OP_Relu, 1, NULL)),
 *          relu_relu, NULL},
 *     };
 *
 *     qc_rewrite_stats st;
 *     QC_RETURN_IF_ERROR(qc_rewrite_apply(g, RULES, 1, NULL, &st));
 *
 * A rule has applied when its callback replaced a value (qc_rewriter_replace), set an
 * input (qc_rewriter_set_input), erased a node (qc_rewriter_erase), or reported another
 * in-place edit (qc_rewriter_changed). A callback
 * that returns QC_OK having done none of these declined the match. Pointers into the graph
 * (qc_graph_node, qc_graph_value) are invalidated by adding nodes or values.
 */
#ifndef QUARC_REWRITE_H
#define QUARC_REWRITE_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- patterns ------------------------------------------------------------------------------ */

typedef enum qc_pattern_kind {
  QC_PAT_ANY = 0,
  QC_PAT_OP = 1,
  QC_PAT_CONST = 2,
  QC_PAT_SPLAT = 3,
} qc_pattern_kind;

/** Pattern flags. */
enum {
  /** The node may have more inputs than the pattern lists (the rest are not checked). */
  QC_PAT_MORE_INPUTS = 1u << 0,
  /** The matched value has exactly one use (so rewriting it does not duplicate work). */
  QC_PAT_ONE_USE = 1u << 1,
  /** Do not try the swapped input order of a commutative op. */
  QC_PAT_NO_COMMUTE = 1u << 2,
};

#define QC_MATCH_MAX 16

typedef struct qc_pattern qc_pattern;
/** A predicate on a candidate value; `data` is the pattern's pred_data. */
typedef bool (*qc_pattern_pred)(const qc_graph *g, qc_vid v, const void *data);

struct qc_pattern {
  uint8_t kind;                  /**< qc_pattern_kind */
  uint8_t flags;                 /**< QC_PAT_* flags */
  int8_t capture;                /**< slot 0..QC_MATCH_MAX-1, or -1 */
  int8_t out_index;              /**< QC_PAT_OP: the value is this output of its node */
  qc_op op;                      /**< QC_PAT_OP */
  int32_t n_in;                  /**< QC_PAT_OP: number of input patterns; -1: inputs unchecked */
  const qc_pattern *const *in;   /**< NULL entries match anything, even an omitted input */
  double splat;                  /**< QC_PAT_SPLAT: the element value */
  qc_pattern_pred pred;          /**< optional, checked after the structure matched */
  const void *pred_data;
};

/* Pattern constructors as compound literals (static storage at file scope). Input lists
 * are the trailing macro arguments, so a sub-pattern may itself be a compound literal with
 * commas in it; NULL in an input list matches anything, even an omitted input. */
#define QC_PAT_ANY_VALUE(cap) (&(const qc_pattern){.kind = QC_PAT_ANY, .capture = (cap)})
/** Any value satisfying pred(g, v, data). */
#define QC_PAT_ANY_IF(cap, pred_, data)                                                           \
  (&(const qc_pattern){.kind = QC_PAT_ANY, .capture = (cap), .pred = (pred_), .pred_data = (data)})
#define QC_PAT_ANY_CONST(cap) (&(const qc_pattern){.kind = QC_PAT_CONST, .capture = (cap)})
#define QC_PAT_SPLAT_OF(cap, v)                                                                   \
  (&(const qc_pattern){.kind = QC_PAT_SPLAT, .capture = (cap), .splat = (v)})
/** A node of op with any inputs. */
#define QC_PAT_NODE(op_, cap)                                                                     \
  (&(const qc_pattern){.kind = QC_PAT_OP, .op = (op_), .capture = (cap), .n_in = -1})
#define QC_PAT_COUNT_(...)                                                                        \
  ((int32_t)(sizeof((const qc_pattern *const[]){__VA_ARGS__}) / sizeof(const qc_pattern *)))
/** A node of op whose inputs match the listed patterns, with QC_PAT_* flags. */
#define QC_PAT_OPF(op_, cap, flags_, ...)                                                         \
  (&(const qc_pattern){.kind = QC_PAT_OP, .op = (op_), .capture = (cap), .flags = (flags_),       \
                       .n_in = QC_PAT_COUNT_(__VA_ARGS__),                                        \
                       .in = (const qc_pattern *const[]){__VA_ARGS__}})
#define QC_PAT_OPN(op_, cap, ...) QC_PAT_OPF(op_, cap, 0, __VA_ARGS__)
/** Readable spellings of QC_PAT_OPN for one and two inputs. */
#define QC_PAT_OP1(op_, cap, ...) QC_PAT_OPF(op_, cap, 0, __VA_ARGS__)
#define QC_PAT_OP2(op_, cap, ...) QC_PAT_OPF(op_, cap, 0, __VA_ARGS__)
/** The node may have further (unchecked) inputs after the listed ones. */
#define QC_PAT_OP_MORE(op_, cap, ...) QC_PAT_OPF(op_, cap, QC_PAT_MORE_INPUTS, __VA_ARGS__)

/** The result of a match: captured values and, for op patterns, their nodes. */
typedef struct qc_match {
  qc_nid node;                   /**< the node matched by the root pattern */
  qc_vid cap[QC_MATCH_MAX];      /**< QC_NONE where a slot is not bound */
  qc_nid cap_node[QC_MATCH_MAX]; /**< defining node of a captured op-pattern value, else QC_NONE */
} qc_match;

/** Match `p` (an op pattern) against node n. Fills *m on success. */
bool qc_pattern_match_node(const qc_graph *g, const qc_pattern *p, qc_nid n, qc_match *m);
/** Match `p` against value v, keeping captures already in *m (initialise it with
 *  qc_match_init). */
bool qc_pattern_match_value(const qc_graph *g, const qc_pattern *p, qc_vid v, qc_match *m);
void qc_match_init(qc_match *m);

/** Every element of t equals v (numerically: -0 equals 0; NaN equals nothing). Works for
 *  every non-block numeric and bool dtype. False for an empty tensor. */
bool qc_tensor_is_splat(const qc_tensor *t, double v);

/* ---- the driver ----------------------------------------------------------------------------- */

typedef struct qc_rewriter qc_rewriter;

/** A rule callback: inspect the match, edit the graph, or decline by returning QC_OK with no
 *  edit. An error stops the driver. */
typedef qc_status (*qc_rewrite_fn)(qc_rewriter *rw, const qc_match *m, void *user);

typedef struct qc_rewrite_rule {
  const char *name;          /**< for statistics and messages */
  const qc_pattern *pattern; /**< root: a QC_PAT_OP pattern */
  qc_rewrite_fn apply;
  void *user;
} qc_rewrite_rule;

typedef struct qc_rewrite_options {
  int32_t max_iterations;  /**< sweeps before giving up on a fixpoint; 0 = 10 */
  bool no_subgraphs;       /**< do not descend into sub-graphs (If/Loop/Scan bodies) */
  bool no_infer;           /**< do not re-infer types at the end */
} qc_rewrite_options;

typedef struct qc_rewrite_stats {
  int32_t iterations; /**< sweeps of the top-level graph */
  int64_t applied;    /**< rule applications, sub-graphs included */
  bool converged;     /**< the last sweep of every graph changed nothing */
} qc_rewrite_stats;

/** Apply `rules` to g (and its sub-graphs) until nothing changes or max_iterations sweeps
 *  ran. opts and stats may be NULL. Errors from callbacks are wrapped with the rule name and
 *  the node. Not reaching a fixpoint is not an error (see stats->converged). */
qc_status qc_rewrite_apply(qc_graph *g, const qc_rewrite_rule *rules, int32_t n_rules,
                           const qc_rewrite_options *opts, qc_rewrite_stats *stats) QC_MUST_USE;

/** The graph being rewritten (a sub-graph when the driver is in one). */
qc_graph *qc_rewriter_graph(qc_rewriter *rw);
/** Whether qc_rewriter_replace(rw, from, to) can succeed (see qc_value_can_replace). */
bool qc_rewriter_can_replace(qc_rewriter *rw, qc_vid from, qc_vid to);
/** Replace every use of `from` with `to` (qc_value_replace); the defining node of `from` is
 *  erased at the end of the sweep if nothing uses it any more. */
qc_status qc_rewriter_replace(qc_rewriter *rw, qc_vid from, qc_vid to) QC_MUST_USE;
/** As qc_rewriter_replace, and `to` (a value the callback created) takes the name of
 *  `from` even when `from` is not a graph output: use it for a value that stands for the
 *  old one ("y" stays "y"). */
qc_status qc_rewriter_replace_named(qc_rewriter *rw, qc_vid from, qc_vid to) QC_MUST_USE;
/** Set input `slot` of node n to v (an in-place edit that counts as an application); the
 *  old input's producer is erased at the end of the sweep if nothing uses it any more. */
qc_status qc_rewriter_set_input(qc_rewriter *rw, qc_nid n, int32_t slot, qc_vid v) QC_MUST_USE;
/** Erase node n now. Fails (naming the node) if one of its outputs is still used. */
qc_status qc_rewriter_erase(qc_rewriter *rw, qc_nid n) QC_MUST_USE;
/** Report another in-place edit (an attribute set) as an application. Edits made with the
 *  graph API behind the rewriter's back that change uses (qc_node_set_input) must be
 *  reported this way too: the rewriter then recomputes its use lists. */
void qc_rewriter_changed(qc_rewriter *rw);
/** Number of uses of v (node inputs, sub-graph captures, graph outputs); recomputed lazily
 *  after edits. -1 if the uses cannot be computed (out of memory). */
int32_t qc_rewriter_use_count(qc_rewriter *rw, qc_vid v);

/** A rewriter outside the driver, for passes that walk the graph themselves (cse, fold) but
 *  want its cheap edits: a replacement costs the number of uses of the value, not a walk of
 *  the graph. One graph level (sub-graphs get their own). qc_rewriter_finish erases what
 *  the edits orphaned, restores topological order, compacts the graph and frees rw (also
 *  on error); qc_rewriter_abort only frees. */
qc_status qc_rewriter_begin(qc_graph *g, qc_rewriter **out) QC_MUST_USE;
qc_status qc_rewriter_finish(qc_rewriter *rw) QC_MUST_USE;
void qc_rewriter_abort(qc_rewriter *rw);

/* ---- replacing values without a rewriter ------------------------------------------------- */

/** Whether `from` can be replaced by `to`. Always true unless `from` is a graph output: then
 *  `to` must take over its name (the graph's interface keeps its names), which needs `to` to
 *  be a node output or constant that is neither a graph output itself nor captured by a
 *  sub-graph under its own name. */
bool qc_value_can_replace(const qc_graph *g, qc_vid from, qc_vid to);

enum {
  /** `to` takes the name of `from` even when `from` is not a graph output. */
  QC_REPLACE_TAKE_NAME = 1u << 0,
};

/** Make every use of `from` use `to` (qc_graph_replace_uses: a walk of the graph; a
 *  rewriter is cheaper for many replacements), keeping names as qc_value_can_replace
 *  describes; `from` is renamed "<name>.dead<k>" when `to` takes its
 *  name. If `to` is a node output of unknown type, it inherits the type of `from`.
 *  Fails (naming both values) where qc_value_can_replace is false. */
qc_status qc_value_replace(qc_graph *g, qc_vid from, qc_vid to, unsigned flags) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
