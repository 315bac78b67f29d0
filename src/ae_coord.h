/*
 * ae_coord.h — what ae_train needs of the sharded training (ae_coord.c):
 * a partitioned table with foreign partitions, trained on named columns
 * with options the exact mode supports, is trained across its shards,
 * each row keyed by its own values.
 */
#ifndef AE_COORD_H
#define AE_COORD_H

#include "ae_training.h"
#include "utils/array.h"

/* Does relid have foreign partitions, and may opts train across them? */
extern bool AeCoordWantsShards(Oid relid, const AeTrainOptions *opts);

/*
 * The training of relid's named columns across its shards
 * (CurrentMemoryContext), from warm's weights and normalisation when not
 * NULL (a warm start).
 */
extern AeBundle *AeCoordTrainRelation(Oid relid, ArrayType *columns, AeTrainOptions *opts,
									  const AeBundle *warm, const char *what,
									  AeTrainerReport *report);

#endif							/* AE_COORD_H */
