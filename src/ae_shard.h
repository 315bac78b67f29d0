/*
 * ae_shard.h — one shard of a sharded training (doc/scaling.md): the rows
 * of one table, read once into memory, and the per-step work on them.
 *
 * The SQL functions ae_shard_open/_normalize/_step/_eval/_close serve a
 * coordinator on another server (the state lives in the backend between
 * calls, keyed by a session name); the coordinator calls the same functions
 * directly for the partitions it holds itself.  Every result is a partial
 * state of src/core/ae_grad_state.h, as a bytea.
 */
#ifndef AE_SHARD_H
#define AE_SHARD_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "ae_grad_state.h"
#include "ae_nn.h"

typedef struct AeShard AeShard;

/* What a row's hash decides (the same rule on every server). */
extern uint64 AeShardKeyHash(const char *key, Size len, int64 seed);
extern bool AeShardIsValidation(uint64 h0, double validation_fraction);
extern int	AeShardBatchOf(uint64 h0, int epoch, int n_batches);

/*
 * Read the rows of relid (columns: ncols names, key: the key column, or
 * NULL to key each row by its values) into a memory context made under
 * parent (max_rows: below).  Raises on unusable rows (NULL, NaN,
 * infinite), naming the row.
 */
extern AeShard *AeShardOpen(MemoryContext parent, Oid relid, char **columns, int ncols,
							const char *key, int64 seed, double validation_fraction,
							int64 max_rows, Size others);

/*
 * max_rows (> 0) keeps a sample: the rows of the whole relation whose
 * sample hash (AeShardSampleHash of the key's hash, in [0, 2^63)) is at
 * most the largest threshold below which the relation has no more than
 * max_rows rows.  AeShardOpen holds the max_rows + 1 of smallest hash;
 * AeShardCountBelow counts the rows held up to a threshold (exact below
 * the largest held hash, more than max_rows above it when rows were
 * dropped), so the coordinator finds the threshold from every shard's
 * counts; AeShardKeepBelow drops the rest and returns the new statistics.
 */
extern int64 AeShardSampleHash(uint64 h0);
extern int64 AeShardCountBelow(const AeShard *shard, int64 threshold);
extern bytea *AeShardKeepBelow(AeShard *shard, int64 threshold);
extern void AeShardFree(AeShard *shard);

/* The bytes of its rows, which count against autoenc.max_train_memory. */
extern Size AeShardBytes(const AeShard *shard);

/* Keep freed memory in this process while a training or session needs it (counted). */
extern void AeShardRetainHeap(bool retain);

/*
 * The columns exist and are numbers, the key exists (raises naming the
 * column).  Returns true when columns is one array column of numbers: the
 * rows are its arrays (*float4: of real), as ae_train's input column.
 */
extern bool AeShardCheckColumns(Oid relid, char **columns, int ncols, const char *key,
								bool *float4);

/* A partial state of kind with these arrays, as a bytea (src/core/ae_grad_state.h). */
extern bytea *AeShardMakeState(AeGradStateKind kind, uint64 snapshot, int epoch, int batch,
							   int64 rows, const int32 *ints, uint32 n_ints,
							   const double *doubles, uint32 n_doubles,
							   const float *floats, uint32 n_floats);

/*
 * AE_GS_STATS: ints width and input kind (AE_SHARD_INPUT_*); doubles rows,
 * training rows, validation rows, then per input mean, M2, min, max.  An
 * array input's width is its arrays' length, 0 on a shard without rows.
 */
#define AE_SHARD_INPUT_COLUMNS	0
#define AE_SHARD_INPUT_ARRAY	1
extern bytea *AeShardStats(AeShard *shard);
extern void AeShardNormalize(AeShard *shard, const float *offset, const float *scale, int d);

/*
 * A weights snapshot's doubles: l1_activity alone, or with denoising's kind
 * (AeNoise) and level, the contractive weight (the exact penalty: no
 * random projections) and the sparsity penalty's weight and target.  AeShardObjectiveDoubles fills out
 * (AE_SNAPSHOT_DOUBLES) and returns how many to send; AeShardSnapshotObjective
 * reads them back into *obj (defaults otherwise, loss given), validated as
 * a state from elsewhere (raises XX001 naming what).
 */
#define AE_SNAPSHOT_DOUBLES 6
extern uint32 AeShardObjectiveDoubles(const AeObjective *obj, double *out);
extern void AeShardSnapshotObjective(const AeGradState *gs, AeLoss loss, AeObjective *obj,
									 const char *what);

/*
 * AE_GS_GRADIENT of the shard's rows of one batch at the snapshot's
 * weights; with the sparsity penalty two calls: AE_GS_CODE (the rows' code
 * sums) for the snapshot, then AE_GS_GRADIENT for the coordinator's
 * AE_GS_CODE of the whole batch.
 */
extern bytea *AeShardStep(AeShard *shard, const bytea *request, int epoch, int batch,
						  int n_batches);

/* AE_GS_EVAL: what 1 the validation loss sum, what 2 every row's error. */
#define AE_SHARD_EVAL_VALIDATION	1
#define AE_SHARD_EVAL_ERRORS		2
extern bytea *AeShardEval(AeShard *shard, const bytea *snapshot, int what);

/*
 * AE_GS_EVAL with every row's error for the rows sql returns (d float8
 * columns in original units); the snapshot must carry the normalisation.
 */
extern bytea *AeShardQueryErrors(const char *sql, int d, const bytea *snapshot,
								 const char *relname);

/* The approximate mode: one local epoch from the snapshot (AE_GS_GRADIENT of weights × rows). */

extern bytea *AeShardLocal(AeShard *shard, const bytea *snapshot, Jsonb *options, int round);

/*
 * Parse a partial state from a bytea (raises XX001 naming the fault) and
 * check its kind.
 */
extern void AeShardParseState(const bytea *b, AeGradStateKind kind, AeGradState *gs,
							  const char *what);
/* The first code sum (AE_GS_CODE) outside [0, rows], 0-based, or -1. */
extern int	AeShardBadCodeSum(const AeGradState *gs);

/* The same over len bytes at buf (a libpq result's value, say); gs points into them. */
extern void AeShardParseBytes(const char *buf, size_t len, AeGradStateKind kind,
							  AeGradState *gs, const char *what);

#endif							/* AE_SHARD_H */
