/*
 * autoenc.h — declarations shared by the SQL-facing files.
 */
#ifndef AUTOENC_H
#define AUTOENC_H

#define AE_LIBRARY_VERSION "0.1.0"

/* settings (autoenc.c) */
extern int	ae_blas_threads;
extern int	ae_max_train_memory_kb;

#endif							/* AUTOENC_H */
