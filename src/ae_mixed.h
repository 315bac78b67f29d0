/*
 * ae_mixed.h — training on named columns of several types (ae_mixed.c):
 * the store of gathered rows that ae_train and the ae_fit aggregate over a
 * row share, and the training from it.
 */
#ifndef AE_MIXED_H
#define AE_MIXED_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "ae_compat.h"
#include "ae_training.h"

typedef struct AeMixedRows AeMixedRows;

/*
 * An empty store in CurrentMemoryContext for columns names[] of types
 * typids[] (42804 for a type no encoding fits).  reservoir > 0 keeps a
 * uniform sample of that many rows, seeded by seed (ae_train's max_rows);
 * 0 keeps every row.
 */
extern AeMixedRows *AeMixedRowsCreate(int ncols, char **names, const Oid *typids,
									  int64 reservoir, int64 seed);

/*
 * Check and keep one row.  False, with check filled in (1-based column),
 * for a NaN, infinite or too large number, and for a NULL unless
 * nulls_learnt; an infinite date or time raises 22008.
 */
extern bool AeMixedRowsAdd(AeMixedRows *r, const Datum *values, const bool *isnull,
						   bool nulls_learnt, AeRowCheck *check);

/* Add from's rows to into (a parallel plan's combine); the columns must be the same. */
extern void AeMixedRowsMerge(AeMixedRows *into, const AeMixedRows *from);

/* 22P03 for a malformed ae_fit state (ae_agg.c), detail saying what is wrong. */
pg_noreturn extern void AeFitBadState(const char *detail);

/* A worker's store as bytes, and back (validated: bytes are not trusted). */
extern void AeMixedRowsSerialize(const AeMixedRows *r, StringInfo buf);
extern AeMixedRows *AeMixedRowsDeserialize(StringInfo buf);

extern int64 AeMixedRowsCount(const AeMixedRows *r);
/* The columns' types, and names (palloc'd arrays); returns the count. */
extern Oid *AeMixedRowsTypes(const AeMixedRows *r);
extern int	AeMixedRowsColumns(const AeMixedRows *r, char ***names);

/*
 * Learn the encoding, encode the rows and train (AeTrainerRun).  With
 * numeric columns only, no NULL and unit weights the result is a plain
 * numeric model.  With max_rows and no reservoir, a seeded sample of the
 * encoded rows in their canonical order.
 */
extern AeBundle *AeMixedRowsTrain(const AeMixedRows *r, AeTrainOptions *opts, const char *columns,
								  int n_columns, Size columns_len, const char *what,
								  AeTrainerReport *report);

/*
 * ae_train on named columns that need an encoding (data->mixed, after
 * AeDataPrepare or AeDataRead): one pass over the relation into a store.
 */
extern AeBundle *AeMixedTrain(AeData *data, AeTrainOptions *opts, const AeBundle *warm,
							  const char *what, AeTrainerReport *report);

#endif							/* AE_MIXED_H */
