/* Interpreter kernels: recurrent and attention ops of the nn family (see k_nn.c). */
#include "runtime/k_nn.h"
