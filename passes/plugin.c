/* Pass plugins: shared objects loaded with dlopen that export
 *     qc_status quarc_plugin_init(qc_context *ctx);
 * and optionally `const int quarc_plugin_abi_version`. The ABI is described in
 * docs/passes.md. */
#include "passes/internal.h"

#include <dlfcn.h>
#include <stdlib.h>

typedef qc_status (*plugin_init_fn)(qc_context *ctx);

qc_status qc_plugin_load(qc_context *ctx, const char *path) {
  if (!path || !*path) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "plugin: empty path");
  dlerror();
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return qc_status_new(QC_CODE_NOT_FOUND, "plugin '%s': cannot load: %s", path,
                         why ? why : "unknown dlopen error");
  }
  for (int32_t i = 0; i < ctx->n_plugins; i++)
    if (ctx->plugins[i] == h) {
      dlclose(h); /* drops the reference this call added; the first one stays */
      return QC_OK;
    }
  const int *abi = (const int *)dlsym(h, "quarc_plugin_abi_version");
  if (abi && *abi != QC_PLUGIN_ABI_VERSION) {
    int version = *abi; /* read before the object goes away */
    dlclose(h);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "plugin '%s': built for plugin ABI %d, this quarc has ABI %d", path,
                         version, QC_PLUGIN_ABI_VERSION);
  }
  dlerror();
  /* POSIX: converting the object pointer from dlsym to a function pointer is defined. */
  void *sym = dlsym(h, "quarc_plugin_init");
  if (!sym) {
    dlclose(h);
    return qc_status_new(QC_CODE_NOT_FOUND,
                         "plugin '%s': no symbol 'quarc_plugin_init' (a plugin must export "
                         "`qc_status quarc_plugin_init(qc_context *ctx)`)",
                         path);
  }
  plugin_init_fn init;
  memcpy(&init, &sym, sizeof init);
  if (ctx->n_plugins == ctx->cap_plugins) {
    int32_t nc = ctx->cap_plugins ? ctx->cap_plugins * 2 : 4;
    void **p = realloc(ctx->plugins, sizeof *p * (size_t)nc);
    if (!p) {
      dlclose(h);
      return QC_OOM();
    }
    ctx->plugins = p;
    ctx->cap_plugins = nc;
  }
  int32_t before = ctx->n_passes;
  qc_status s = init(ctx);
  if (s) {
    /* The object stays mapped (it may have registered ops or kernels before failing), but
     * its passes leave the context so that nothing refers to a half-initialised plugin. */
    qc_context_truncate(ctx, before);
    return qc_status_wrap(s, "plugin '%s': quarc_plugin_init failed", path);
  }
  ctx->plugins[ctx->n_plugins++] = h;
  return QC_OK;
}
