/* LCRankNet: a model that ranks learning curves observed up to some epoch (Wistuba and
 * Pedapati, "Learning to Rank Learning Curves", ICML 2020), trained on a learning-curve
 * meta-dataset (lamarck/meta.h) with lamarck's own NN engine (lm_custom_net), and the "rank"
 * early-stopping rule built on it.
 *
 *     lm_meta m;
 *     lm_meta_read("meta.h5", &m);
 *     lm_rank_options o;
 *     lm_rank_options_default(&o);
 *     int train[] = {0, 1, 2};
 *     lm_rank_model *r;
 *     lm_rank_train(&m, train, 3, &o, &r);
 *     double s, p;
 *     lm_rank_score(r, 3, encoding, curve, t, &s);              // f(x)
 *     lm_rank_prob_better(r, 3, enc, curve, best_enc, best_curve, t, &p);
 *     lm_rank_save(r, "rank.bin");
 *     lm_rank_destroy(&r);
 *
 * The score f(x) = z_{t-1} + g(x) of a curve observed to epoch t is the z-scored last
 * observed value plus a network's correction g, so the model starts from the last-value
 * baseline.
 * z_e = (y_e - mu_{d,e}) / sd_{d,e} (clipped to +-6): mu and sd the mean and deviation
 * of epoch e + 1's validation accuracy over dataset d's architectures, per dataset of
 * the meta-dataset the model was trained with (held-out ones included: a search has
 * those statistics of the curves it observed; only epochs < t enter a score), and for
 * dataset -1 the training datasets' average. g is one network over one input:
 * C channels x 1 x E (E the meta-dataset's epochs), position e being epoch e + 1:
 *   channel 0       z_e for e < t, else 0
 *   channel 1       the observation mask: 1 for e < t, else 0
 *   channel 2       z_{t-1}, at every position
 *   channel 3       t / E, at every position
 *   channel 4       mu_{d,e} for e < t, else 0
 *   channel 5       log(sd_{d,e}) / 4 + 1 for e < t, else 0 (the dataset as its curves
 *                   describe it, for one whose one-hot is zero)
 *   channels 6..    the architecture encoding (standardized with the training
 *                   architectures' mean and deviation; zeros when hidden), at every
 *                   position
 *   last D channels the dataset's one-hot vector, at every position (all zeros for a
 *                   dataset the model was not trained on)
 * Layers: two 1 x 3 and 1 x 5 convolutions (filters each, ReLU) over the whole input,
 * each averaged over the width (the paper's 1-D convolutions over the curve with
 * pooling, which the mask channel lets ignore unobserved epochs), a dense branch
 * (hidden units, ReLU) over the flattened input, their concatenation, a dense layer
 * (hidden, ReLU) and the linear head to one output: g(x). A dense layer over a one-hot
 * vector is a learned embedding, so the dataset embedding of the paper is the first
 * layers' weights over the one-hot channels; broadcasting it (and the architecture
 * encoding) over the width conditions the convolutions on it as well.
 *
 * Training (section 3 of the paper): each step draws one training dataset, one length
 * t uniform in 1..E-1 and batch_pairs pairs (i, j) of architectures with complete
 * curves on it; the loss is the cross-entropy of p_ij = sigmoid(f(x_i) - f(x_j))
 * against y_ij = [final_i > final_j] (1/2 on a tie), final the validation accuracy of
 * the last epoch. With probability dataset_dropout a step hides the dataset (zero
 * one-hot), so the model also learns to rank on datasets it has not seen, and with
 * probability encoding_dropout the architecture encodings.
 *
 * Measured on meta/mlp.h5 (leave-one-dataset-out, issue 10): after 10% of the epochs the
 * model does not beat the last value on most held-out datasets. The early last value's
 * Spearman with the final accuracy is +0.47 and +0.73 on the image datasets but -0.23,
 * -0.01, -0.24 and +0.12 on the tabular ones (and the encoding's flips sign the same
 * way), so what the other datasets teach about 2-epoch curves is wrong for the held-out
 * one. From 20% on, and at 50% (where it beats the last value on 3 of 6), it helps.
 * Models are deterministic given the options' seed and the data. */
#ifndef LAMARCK_RANK_H
#define LAMARCK_RANK_H

#include "lamarck/meta.h"
#include "lamarck/search.h"

#include <stdint.h>

typedef struct lm_rank_options {
    uint64_t seed;          /* weights and the pairs drawn */
    int steps;              /* SGD steps, 1..10^7 */
    int batch_pairs;        /* pairs per step, 1..4096 */
    double lr;              /* base learning rate (cosine decay to 0 over steps), > 0 */
    double momentum;        /* [0, 1) */
    double weight_decay;    /* decoupled, >= 0 */
    int filters;            /* channels of each convolution, 1..256 */
    int hidden;             /* units of each dense layer, 1..1024 */
    double dataset_dropout; /* probability that a step hides the dataset, [0, 1] */
    double encoding_dropout; /* probability that a step hides the architecture encodings,
                              * [0, 1]; 1: the model never uses them */
} lm_rank_options;

/* Seed 1, 2000 steps of 64 pairs, lr 0.005, momentum 0.9, weight decay 1e-4, 16
 * filters, 64 hidden units, dataset dropout 0.2, encoding dropout 1 (measured on
 * meta/mlp.h5: the encoding's relation to the final accuracy does not transfer between
 * datasets, see the note at the top). */
void lm_rank_options_default(lm_rank_options *o);
/* LM_ERANGE naming the first field out of its range. */
int lm_rank_options_check(const lm_rank_options *o);

typedef struct lm_rank_model lm_rank_model;

/* Trains a model on the datasets train_datasets[0..n) of m (indices, distinct, n >= 1)
 * as the header says. Architectures whose validation curve on a dataset has a missing
 * (NaN) epoch are left out of that dataset's pairs. LM_EINVAL for a bad dataset list,
 * LM_EDATA when no training dataset has two complete curves (the message says so). */
int lm_rank_train(const lm_meta *m, const int *train_datasets, int n, const lm_rank_options *o,
                  lm_rank_model **out);
void lm_rank_destroy(lm_rank_model **r);

/* The model's shape: epochs E, architecture encoding length L, datasets D (of the
 * meta-dataset it was trained on). dataset_known: whether it trained on dataset d. */
int lm_rank_epochs(const lm_rank_model *r);
int lm_rank_encoding_len(const lm_rank_model *r);
int lm_rank_n_datasets(const lm_rank_model *r);
int lm_rank_dataset_known(const lm_rank_model *r, int d);

/* The score f(x) of the partial curve curve[0..t) (validation accuracies of epochs
 * 1..t, 1 <= t <= E; a NaN counts as 0) of the architecture encoded by encoding (L
 * floats) on dataset (0..D-1; -1 or a dataset the model did not train on: the zero
 * one-hot). Higher scores rank higher. Evaluation mode; not thread-safe (the model
 * keeps scratch buffers). */
int lm_rank_score(lm_rank_model *r, int dataset, const float *encoding, const float *curve, int t,
                  double *score);

/* Scores of n curves at once: encodings n x L (NULL: architectures unknown, scored as
 * with hidden encodings), curves n rows of stride floats (stride
 * >= t), into scores[0..n). */
int lm_rank_score_many(lm_rank_model *r, int dataset, int n, const float *encodings,
                       const float *curves, int stride, int t, double *scores);

/* p(m > m_max) as the paper's early termination uses it: sigmoid(f(x) - f(x_best)),
 * x the running curve and x_best the curve of the best model so far (its own encoding),
 * both cut to the same t epochs, the length the model compares pairs at. */
int lm_rank_prob_better(lm_rank_model *r, int dataset, const float *encoding, const float *curve,
                        const float *best_encoding, const float *best_curve, int t, double *p);

/* Saves r to a binary file at path (magic "LMRANK01", version, shape, options,
 * standardization, weights, then an FNV-1a 64 checksum of everything before it),
 * written to "<path>.tmp" and renamed. Loads one back: LM_ENOENT for a missing
 * file, LM_EDATA naming the file and what is wrong for a foreign, truncated,
 * corrupted or out-of-bounds one. */
int lm_rank_save(const lm_rank_model *r, const char *path);
int lm_rank_load(const char *path, lm_rank_model **out);

/* ---- evaluation ---- */

#define LM_RANK_EVAL_POINTS 3 /* 10%, 20% and 50% of the epochs */
extern const double lm_rank_eval_fracs[LM_RANK_EVAL_POINTS];

/* Spearman correlations on one dataset between the final validation accuracy and,
 * after t[i] = max(1, round(frac_i E)) epochs, the model's score (rho_model) and the
 * last observed value (rho_last), over the n_archs architectures with complete
 * curves. NaN where undefined (fewer than 2 architectures or a constant ranking). */
typedef struct lm_rank_eval {
    int dataset;
    int n_archs;
    int t[LM_RANK_EVAL_POINTS];
    double rho_model[LM_RANK_EVAL_POINTS];
    double rho_last[LM_RANK_EVAL_POINTS];
} lm_rank_eval;

/* Spearman's rank correlation of x and y (n values each; average ranks for ties):
 * NaN when n < 2 or either is constant. */
double lm_rank_spearman(const double *x, const double *y, int n);

/* Evaluates r on dataset d of m (the model's E, L and D must be m's, else LM_EINVAL). */
int lm_rank_eval_dataset(lm_rank_model *r, const lm_meta *m, int d, lm_rank_eval *out);

/* Leave-one-dataset-out: for each dataset d of m, a model trained with o on every
 * other dataset, evaluated on d; rows[d] (capacity m->n_datasets). A dataset with no
 * complete curve gets n_archs 0 and NaN figures. Needs at least 2 datasets. */
int lm_rank_eval_loo(const lm_meta *m, const lm_rank_options *o, lm_rank_eval *rows);

/* ---- the "rank" stopping rule ----
 * Stops a trial when p(m > m_max) <= delta: m its running curve, m_max the trial with
 * the best final validation accuracy among those that completed the judged trial's
 * epochs (epochs_target), compared at the judged trial's epochs done t (1 <= t < E;
 * trials of more epochs than the model's E are not judged). Options: delta (default
 * 0.05), grace_epochs (1), min_trials (3: completed trials needed before any stop).
 *
 * The model, the dataset and the architectures come from the context this function
 * installs: it keeps a copy of ctx (whose pointers stay borrowed and must outlive every
 * rank stopper) and registers the rule under "rank" with lm_stopper_register, so a
 * configuration may then name it. Call it once at start-up, before creating
 * stoppers; a second call replaces the context (the registration stays). */
typedef struct lm_rank_stopper_ctx {
    lm_rank_model *model;   /* borrowed */
    int dataset;            /* the search's dataset in the model (-1: unknown) */
    const float *encodings; /* n_archs x L architecture encodings (borrowed) */
    int n_archs;
    int arch_hp;            /* index of the trial's hyperparameter holding its architecture
                             * index (the replay transport's arch_index) */
} lm_rank_stopper_ctx;

int lm_rank_stopper_register(const lm_rank_stopper_ctx *ctx);

/* Makes the rule "rank" known (config validation looks rules up by name) without a
 * model: a run then names one with stopping.model (lm_stopper_model_path), loaded when
 * the rule is created, with the run's dataset unknown to the model (its fallback curve
 * statistics) and no architecture encodings. The lamarck binary calls it at start-up. */
int lm_rank_stopper_install(void);

/* ---- evaluation of early-stopping rules on replayed searches (issue 10) ----
 *
 *     lm_rank_stopeval_options o;
 *     lm_rank_stopeval_options_default(&o);
 *     o.runs_dir = "runs/stopeval";
 *     lm_rank_stopeval_row *rows = calloc(D * LM_RANK_STOPEVAL_N, sizeof *rows);
 *     lm_rank_eval *rho = calloc(D, sizeof *rho);
 *     lm_rank_stopeval(&m, &o, rows, rho);
 *
 * For each dataset d of the meta-dataset as the held-out one: a ranking model is trained
 * on every other dataset (o->rank), evaluated on d (rho[d], as lm_rank_eval_dataset), and
 * installed as the "rank" rule's context (lm_rank_stopper_register, the held-out dataset
 * as unknown to it); then one replayed search (lm_exec_replay, o->n_workers simulated
 * workers) per stopping rule of lm_rank_stopeval_stoppers visits every architecture of d
 * once: grid search over arch_index 0..K-1, each trial asked for all E epochs. The
 * architectures of a meta-dataset are drawn independently, so index order is a random
 * order without repeats. Row d * LM_RANK_STOPEVAL_N + s holds rule s on dataset d.
 *
 * Figures: epochs is the sum of the epochs every trial trained; speedup is the epochs
 * of "none" (full training, the reference) over the rule's. A trial "trained to the end"
 * reached epoch E; the search returns the one among them with the best final (epoch E)
 * validation accuracy, and regret is the best final validation accuracy over all K
 * architectures of d (those with a complete curve) minus that one's (0 when it found
 * the best; the whole best when nothing was trained to the end). Replays write their
 * run directories under o->runs_dir/<d>_<dataset name>/<rule> (replaced; characters of
 * the name outside [A-Za-z0-9._-] as _). Not collective; the
 * model training dominates the time. It installs the "rank" rule's context for each
 * held-out model and destroys the model after: call lm_rank_stopper_register again
 * before creating a "rank" stopper afterwards. */

#define LM_RANK_STOPEVAL_N 5 /* none, rank, curve, median, last */
extern const char *const lm_rank_stopeval_stoppers[LM_RANK_STOPEVAL_N];

typedef struct lm_rank_stopeval_options {
    lm_rank_options rank;  /* the ranking model's training (lm_rank_options_default) */
    int n_workers;         /* simulated workers, 1..LM_REPLAY_WORKERS_MAX (4) */
    double delta;          /* the rank and curve rules' delta, [0, 1] (0.05) */
    uint64_t seed;         /* the replays' experiment seed (1) */
    const char *runs_dir;  /* where replays write (default "runs/stopeval") */
    const char *meta_path; /* the file m was read from, recorded in each replay's config
                            * (NULL: "(in memory)"); the replays use m itself */
} lm_rank_stopeval_options;

void lm_rank_stopeval_options_default(lm_rank_stopeval_options *o);

typedef struct lm_rank_stopeval_row {
    int dataset;           /* index in the meta-dataset */
    int stopper;           /* index in lm_rank_stopeval_stoppers */
    int trials;            /* trials the search ran (K) */
    int stopped;           /* trials stopped before epoch E */
    int completed;         /* trials trained to the end */
    long epochs;           /* epochs trained, all trials together */
    double speedup;        /* epochs of "none" / epochs */
    double time_speedup;   /* the same for the virtual makespan */
    double best_possible;  /* best final validation accuracy over every architecture */
    double best_found;     /* that of the trial the search returns (NaN: none) */
    double regret;         /* best_possible - best_found (best_possible when none) */
} lm_rank_stopeval_row;

/* Runs the evaluation described above on every dataset of m (at least 2 datasets, each
 * with 2 or more complete curves for the model to train on). rows: capacity
 * m->n_datasets x LM_RANK_STOPEVAL_N; rho: capacity m->n_datasets (NULL: not kept).
 * LM_EINVAL/LM_ERANGE for bad options, LM_EDATA for a meta-dataset it cannot use, else
 * the first error of a training or replay. */
int lm_rank_stopeval(const lm_meta *m, const lm_rank_stopeval_options *o,
                     lm_rank_stopeval_row *rows, lm_rank_eval *rho);

/* The median of each rule's speed-up and regret over the datasets (NaN skipped):
 * out[s] with dataset -1; other fields: medians too (epochs rounded), trials summed. */
void lm_rank_stopeval_summary(const lm_rank_stopeval_row *rows, int n_datasets,
                              lm_rank_stopeval_row out[LM_RANK_STOPEVAL_N]);

#endif
