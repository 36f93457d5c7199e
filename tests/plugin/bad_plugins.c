/* Broken plugins for test_plugin, one per BAD_PLUGIN variant:
 *   1  exports no quarc_plugin_init
 *   2  registers a pass, then fails
 *   3  was built for another plugin ABI */
#include "quarc/quarc.h"

#if BAD_PLUGIN == 1
QC_PLUGIN_EXPORT int quarc_plugin_something_else(void) { return 1; }
#elif BAD_PLUGIN == 2
static qc_status run(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)g, (void)a, (void)user;
  return QC_OK;
}
static const qc_pass_info HALF = {"half-registered", "", NULL, 0, run, NULL};
QC_PLUGIN_EXPORT qc_status quarc_plugin_init(qc_context *ctx) {
  QC_RETURN_IF_ERROR(qc_pass_register(ctx, &HALF));
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "cannot find my config");
}
#elif BAD_PLUGIN == 3
QC_PLUGIN_EXPORT const int quarc_plugin_abi_version = QC_PLUGIN_ABI_VERSION + 1;
QC_PLUGIN_EXPORT qc_status quarc_plugin_init(qc_context *ctx) {
  (void)ctx;
  return QC_OK;
}
#endif
