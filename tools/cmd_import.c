/* quarc import DIR -o OUT ... — read a quantized Hugging Face checkpoint (Quark's
 * safetensors or native .pth, AutoAWQ, vLLM fp8, GPTQ, compressed-tensors pack-quantized and
 * float-quantized) as a real-quantized graph and write it out (.qir, .onnx, .gguf, or a
 * directory in Quark's layout): the options and the output rules are quarc export's. */
#include "tools/cli.h"

static int run_import(int argc, char **argv);

const cli_command cli_cmd_import = {"import", "read a quantized checkpoint (Quark, AWQ, fp8, GPTQ, "
                                              "compressed-tensors) and write it out",
                                    "quarc import DIR -o OUT " CLI_EXPORT_OPTIONS, run_import};

static int run_import(int argc, char **argv) { return cli_export_run(&cli_cmd_import, argc, argv, true); }
