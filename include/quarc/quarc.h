/*
 * quarc/quarc.h — the umbrella header of quarc, a dataflow-graph compiler for quantized
 * models. Include this, or the focused headers it lists.
 */
#ifndef QUARC_QUARC_H
#define QUARC_QUARC_H

#include "quarc/status.h"
#include "quarc/dtype.h"
#include "quarc/tensor.h"
#include "quarc/ops.h"
#include "quarc/graph.h"
#include "quarc/infer.h"
#include "quarc/runtime.h"
#include "quarc/kernel.h"
#include "quarc/qir.h"
#include "quarc/pass.h"
#include "quarc/rewrite.h"
#include "quarc/io.h"
#include "quarc/quant.h"

#endif
