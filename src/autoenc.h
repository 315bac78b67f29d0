/*
 * autoenc.h — declarations shared by the SQL-facing files.
 */
#ifndef AUTOENC_H
#define AUTOENC_H

#include "ae_core.h"

#define AE_LIBRARY_VERSION "0.2.0"

/* settings (autoenc.c) */
extern int	ae_blas_threads;
extern int	ae_max_train_memory_kb;

/*
 * The core's allocator inside a backend: palloc in CurrentMemoryContext
 * (huge allocations allowed; failure raises ERROR).  Whatever the core
 * allocates goes away with the context, even when an ERROR unwinds.
 */
extern const AeAllocator ae_palloc_allocator;

/*
 * Turn a core status into ereport(ERROR): AE_ERR_CONFIG → 22023
 * (invalid_parameter_value), AE_ERR_DATA → 22000 (data_exception),
 * AE_ERR_NONFINITE → 22003 (numeric_value_out_of_range),
 * AE_ERR_CANCELED → 57014, AE_ERR_FORMAT → XX001 (data_corrupted),
 * AE_ERR_NOMEM → 53200.  errbuf (may be NULL or empty) is the detail the
 * core wrote; what names the calling operation, e.g. "cannot train model \"m\"".
 * Returns only when status is AE_OK.
 */
extern void ae_check_status(AeStatus status, const char *errbuf, const char *what);

#endif							/* AUTOENC_H */
