#include "exec/runner.h"
#include "lamarck/error.h"
#include "lamarck/hash.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The datasets `lamarck data import NAME` knows (src/cli/cmd_data.c). */
static const char *const importable[] = {"fashion-mnist", "digits",     "iris",     "wine",
                                         "breast-cancer", "vote",       "soybean",  "credit-g",
                                         "diabetes",      "segment",    "ionosphere", "glass"};

int lm__dataset_missing(const lm_config *c, const char *path) {
    for (size_t i = 0; i < sizeof importable / sizeof *importable; i++)
        if (!strcmp(c->dataset, importable[i]))
            LM_FAIL(LM_ENOENT,
                    "dataset file %s not found; create it with: lamarck data import %s --dir %s",
                    path, c->dataset, c->data_dir);
    LM_FAIL(LM_ENOENT,
            "dataset file %s not found; data.dataset is a path ending in .h5 or the name of a "
            "file in data.dir (%s) made by `lamarck data import NAME` (see lamarck data --help)",
            path, c->data_dir);
}

int lm__run_data_load(const lm_config *c, lm_run_data *d) {
    memset(d, 0, sizeof *d);
    char path[4096];
    LM_CALL(lm_config_dataset_path(c, path, sizeof path));
    lm_dataset all = {0};
    int rc = lm_io_dataset_read(path, &all, &d->test);
    if (rc == LM_ENOENT) {
        lm_error_clear();
        return lm__dataset_missing(c, path);
    }
    LM_CALL(rc);
    rc = lm_data_split_stratified(&all, c->validation_fraction, c->seed, &d->train, &d->val);
    lm_dataset_free(&all);
    if (rc < 0) {
        lm__run_data_free(d);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    if (c->train_subset > 0 && c->train_subset < d->train.n) {
        /* The split keeps the original order, so the first N are a fixed sample. */
        int64_t n = c->train_subset;
        int32_t *idx = malloc((size_t)n * sizeof *idx);
        LM_CHECK_ALLOC(idx);
        for (int64_t i = 0; i < n; i++) idx[i] = (int32_t)i;
        lm_dataset sub = {0};
        rc = lm_dataset_subset(&d->train, idx, n, &sub);
        free(idx);
        LM_CALL(rc);
        lm_dataset_free(&d->train);
        d->train = sub;
    }
    return LM_OK;
}

static void free_prepared(lm_run_data *d) {
    lm_dataset_free(&d->ptrain);
    lm_dataset_free(&d->pval);
    lm_dataset_free(&d->ptest);
    d->have_prepared = 0;
}

void lm__run_data_free(lm_run_data *d) {
    free_prepared(d);
    lm_dataset_free(&d->train);
    lm_dataset_free(&d->val);
    lm_dataset_free(&d->test);
}

int lm__run_data_prepare(lm_run_data *d, const lm_preprocess_params *p, const lm_dataset **train,
                         const lm_dataset **val, const lm_dataset **test) {
    int needed = p->scaler != LM_SCALE_NONE || lm_dataset_n_categorical(&d->train) > 0 ||
                 lm_dataset_has_missing(&d->train) || lm_dataset_has_missing(&d->val) ||
                 lm_dataset_has_missing(&d->test);
    if (!needed) {
        *train = &d->train;
        *val = &d->val;
        *test = &d->test;
        return LM_OK;
    }
    if (!d->have_prepared || memcmp(&d->prepared_for, p, sizeof *p) != 0) {
        free_prepared(d);
        lm_preprocessor *pp = NULL;
        int rc = lm_preprocess_fit(p, &d->train, &pp);
        if (rc == LM_OK) rc = lm_preprocess_apply(pp, &d->train, &d->ptrain);
        if (rc == LM_OK) rc = lm_preprocess_apply(pp, &d->val, &d->pval);
        if (rc == LM_OK && d->test.n > 0) rc = lm_preprocess_apply(pp, &d->test, &d->ptest);
        lm_preprocess_destroy(&pp);
        if (rc < 0) {
            free_prepared(d);
            return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        }
        d->prepared_for = *p;
        d->have_prepared = 1;
    }
    *train = &d->ptrain;
    *val = &d->pval;
    *test = d->test.n > 0 ? &d->ptest : &d->test;
    return LM_OK;
}

/* The network of a point of an architecture space: the genome (the arch genes of hp)
 * decoded over this trial's sample shape, checked against the constraints, translated
 * into the engine's layers (*layers, malloc'd: the caller frees it; desc->layers points
 * there). */
static int arch_translate(const lm_runner *r, const lm_config *c, const double *hp,
                          lm_layer_desc **layers, lm_net_desc *desc) {
    int first, n;
    const lm_arch_space *sp = lm_space_arch(c->space, &first, &n);
    LM_CHECK(sp, LM_EINTERNAL, "model.space is set but the space holds no architecture genes");
    lm_arch_space as = *sp;
    as.in_c = r->train->c;
    as.in_h = r->train->h;
    as.in_w = r->train->w;
    as.n_classes = r->train->n_classes;
    int32_t g[LM_HP_MAX];
    for (int i = 0; i < n; i++) {
        LM_CHECK(isfinite(hp[first + i]), LM_EINVAL, "architecture gene %d has no value", i);
        g[i] = (int32_t)hp[first + i];
    }
    lm_arch_net net = {0};
    *layers = NULL;
    int rc = lm_arch_check(&as, g, (size_t)n);
    if (rc == LM_OK) rc = lm_arch_decode(&as, g, (size_t)n, &net);
    if (rc == LM_OK) rc = lm_arch_check_constraints(&as, &net);
    int cap = 3 * net.n_nodes + 8, n_layers = 0;
    if (rc == LM_OK) {
        *layers = calloc((size_t)cap, sizeof **layers);
        rc = *layers ? lm_net_from_arch(&net, *layers, cap, &n_layers, desc)
                     : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    lm_arch_net_fini(&net);
    if (rc < 0) {
        free(*layers);
        *layers = NULL;
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* The trainer of a point of an architecture space. A genome that breaks a constraint
 * fails the trial with the constraint named (the searchers sample within max_params and
 * max_flops, but a latency is only known once measured here). */
static int build_arch(lm_runner *r, const lm_config *c, const double *hp) {
    lm_layer_desc *layers = NULL;
    lm_net_desc desc;
    int rc = arch_translate(r, c, hp, &layers, &desc);
    if (rc == LM_OK && c->max_latency > 0) {
        double lat;
        rc = lm_net_latency(&desc, 1, 9, &lat);
        if (rc == LM_OK && lat > c->max_latency)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ERANGE,
                              "architecture's latency %.3f ms per sample is above "
                              "max_latency_ms %.3f",
                              lat * 1e3, c->max_latency * 1e3);
        if (rc == LM_OK) r->latency = lat;
    }
    if (rc == LM_OK)
        rc = lm_trainer_create_from_desc(&desc, &r->params, r->train, r->val, c->seed,
                                         (uint64_t)r->trial_id, &r->trainer);
    free(layers);
    return rc;
}

int lm__runner_start(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                     const double *hp, int epochs) {
    memset(r, 0, sizeof *r);
    r->config = c;
    r->data = d;
    r->trial_id = trial_id;
    r->epochs_target = epochs;
    r->latency = NAN;
    int rc = lm_config_apply(c, hp, &r->params);
    if (rc == LM_OK) rc = lm__run_data_prepare(d, &r->params.preprocess, &r->train, &r->val, &r->test);
    if (rc == LM_OK) {
        /* The schedule's horizon is the trial's whole training (its epochs), not the
         * job's: a trial that a multi-fidelity searcher trains in rungs follows one
         * cosine from its first epoch to R, as if it had never paused. */
        if (epochs > r->params.epochs) r->params.epochs = epochs;
        rc = c->has_arch ? build_arch(r, c, hp)
                         : lm_trainer_create(&r->params, r->train, r->val, c->seed,
                                             (uint64_t)trial_id, &r->trainer);
    }
    if (rc < 0) {
        /* A configuration the engine refuses fails this trial, not the run. */
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "could not build: %s", lm_error_message());
        lm_error_clear();
    }
    return LM_OK;
}

int lm__runner_resume(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                      const double *hp, int epochs, const void *snap, size_t n) {
    LM_CALL(lm__runner_start(r, c, d, trial_id, hp, epochs));
    if (r->failed) return LM_OK;
    /* The trial's own hyperparameters apply from here on (a clone's may differ from its
     * donor's), over the weights and optimizer state of the snapshot. The schedule keeps
     * the snapshot's horizon unless the trial now trains past it: an inherited child's
     * is its own few epochs (lm__runner_inherit), every other trial's that of start. */
    int horizon = lm_trainer_snapshot_horizon(snap, n);
    if (horizon > 0) r->params.epochs = horizon > epochs ? horizon : epochs;
    if (horizon < 0 || lm_trainer_snapshot_load(r->trainer, snap, n) < 0 ||
        lm_trainer_set_params(r->trainer, &r->params) < 0) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "could not resume: %s", lm_error_message());
        lm_error_clear();
        return LM_OK;
    }
    r->epoch = lm_trainer_epochs_done(r->trainer);
    return LM_OK;
}

/* ---- Lamarckian inheritance (issue 7) ---- */

/* The donor's point: hp with the morph undone on its chain genome (the searcher made hp
 * from the donor's by applying it; other hyperparameters are the donor's). */
static int undo_morph(const lm_config *c, const double *hp, const lm_morph *m, double *donor_hp) {
    int first, n;
    const lm_arch_space *as = lm_space_arch(c->space, &first, &n);
    LM_CHECK(as && (as->family == LM_ARCH_MLP || as->family == LM_ARCH_CHAIN), LM_EINVAL,
             "inheritance needs an mlp or chain architecture space");
    int32_t g[LM_HP_MAX];
    for (int i = 0; i < n; i++) g[i] = isfinite(hp[first + i]) ? (int32_t)hp[first + i] : -1;
    lm_arch_chain ch;
    LM_CALL(lm_arch_chain_parse(as, g, (size_t)n, &ch));
    int L = m->layer;
    if (m->kind == LM_MORPH_WIDER || m->kind == LM_MORPH_NARROWER) {
        LM_CHECK(L >= 0 && L < ch.depth && ch.layer[L].width == m->to_width, LM_EINVAL,
                 "the morph changes layer %d's width to %d, but the genome has %d layers%s", L,
                 m->to_width, ch.depth, L >= 0 && L < ch.depth ? " and another width there" : "");
        ch.layer[L].width = m->from_width;
    } else if (m->kind == LM_MORPH_REMOVE) {
        LM_CHECK(L >= 0 && L <= ch.depth && ch.depth < LM_ARCH_CHAIN_MAX_DEPTH, LM_EINVAL,
                 "the morph removed layer %d, but the genome has %d layers", L, ch.depth);
        for (int j = L; j < ch.depth; j++)
            LM_CHECK(!ch.layer[j].skip, LM_EINVAL,
                     "layer %d has skips: no layer can have been removed before it", j);
        for (int j = ch.depth; j > L; j--) ch.layer[j] = ch.layer[j - 1];
        ch.layer[L] = (lm_arch_layer){(lm_arch_layer_type)m->type, m->kernel, m->from_width,
                                      m->stride, 0};
        ch.depth++;
    } else {
        LM_CHECK(m->kind == LM_MORPH_DEEPER, LM_EINVAL, "unknown morph kind %d", m->kind);
        LM_CHECK(L >= 0 && L + 1 < ch.depth, LM_EINVAL,
                 "the morph inserts a layer after layer %d, but the genome has %d layers", L,
                 ch.depth);
        const lm_arch_layer *a = &ch.layer[L], *b = &ch.layer[L + 1];
        LM_CHECK((a->type == LM_ARCH_LAYER_DENSE || a->type == LM_ARCH_LAYER_CONV) &&
                     b->type == a->type && b->width == a->width && b->skip == 0 &&
                     (b->type == LM_ARCH_LAYER_DENSE || (b->kernel == a->kernel && b->stride == 1)),
                 LM_EINVAL,
                 "the morph inserts an identity layer after layer %d, which the genome (%d "
                 "layers) does not hold", L, ch.depth);
        /* Sources after the inserted layer's output move down by one (arch.h: source k
         * is layer k-1's output); nothing may read the donor layer's own output, which
         * the inserted layer took over. */
        uint32_t low = ((uint32_t)1 << (L + 1)) - 1;
        for (int j = L + 2; j < ch.depth; j++) {
            uint32_t s = ch.layer[j].skip;
            LM_CHECK(!(s & ((uint32_t)1 << (L + 1))), LM_EINVAL,
                     "layer %d reads layer %d's output through a skip: no identity layer can "
                     "have been inserted after layer %d", j, L, L);
            ch.layer[j - 1] = ch.layer[j];
            ch.layer[j - 1].skip = (s & low) | ((s >> (L + 2)) << (L + 1));
        }
        ch.depth--;
    }
    LM_CALL(lm_arch_chain_encode(as, &ch, g, (size_t)n));
    memcpy(donor_hp, hp, (size_t)lm_space_size(c->space) * sizeof *hp);
    for (int i = 0; i < n; i++) donor_hp[first + i] = g[i];
    return LM_OK;
}

static int input_at(const lm_layer_desc *l, int i, int j) { return l->n_inputs ? l->inputs[j] : i - 1; }
static int or_one(int v) { return v ? v : 1; }

/* Whether layer i of two descriptions computes the same thing from the same inputs
 * (defaults resolved: implicit inputs, stride, dilation, groups and kernel width).
 * With any_pad, poolings may differ in padding: "same" padding depends on the input's
 * size, which a removed strided layer changes without changing any weights. */
static int same_layer(const lm_layer_desc *a, const lm_layer_desc *b, int i, int any_pad) {
    int na = a->n_inputs ? a->n_inputs : 1, nb = b->n_inputs ? b->n_inputs : 1;
    if (a->op != b->op || na != nb || a->relu != b->relu) return 0;
    for (int j = 0; j < na; j++)
        if (input_at(a, i, j) != input_at(b, i, j)) return 0;
    switch (a->op) {
    case LM_OP_CONV:
    case LM_OP_SEPCONV:
        return a->out_channels == b->out_channels && a->kernel == b->kernel &&
               (a->kernel_w ? a->kernel_w : a->kernel) == (b->kernel_w ? b->kernel_w : b->kernel) &&
               or_one(a->stride) == or_one(b->stride) && a->padding == b->padding &&
               or_one(a->dilation) == or_one(b->dilation) && or_one(a->groups) == or_one(b->groups);
    case LM_OP_MAXPOOL:
    case LM_OP_AVGPOOL:
        return a->kernel == b->kernel && (any_pad || a->padding == b->padding) &&
               (a->stride ? a->stride : a->kernel) == (b->stride ? b->stride : b->kernel);
    case LM_OP_ZERO: return or_one(a->stride) == or_one(b->stride);
    case LM_OP_DROPOUT: return a->rate == b->rate;
    case LM_OP_ADD:
    case LM_OP_DENSE: return a->out_channels == b->out_channels;
    default: return 1;
    }
}

/* The first layer where a and b differ (b's count when one is a prefix of the other). */
static int first_difference(const lm_net_desc *a, const lm_net_desc *b, int any_pad) {
    int n = a->n_layers < b->n_layers ? a->n_layers : b->n_layers;
    for (int i = 0; i < n; i++)
        if (!same_layer(&a->layers[i], &b->layers[i], i, any_pad)) return i;
    return n;
}

/* Net2Deeper of the donor dd (weights dw, trainer dt) into `want`, whose layer k is the
 * inserted one, after the ReLU that ends dd's layer k - 1: a conv or dense with a fused
 * ReLU (an MLP's dense layer), or conv + BN + ReLU, whose new normalization undoes the
 * statistics it meets on the training data. */
static int deepen(lm_runner *r, lm_trainer *dt, const lm_net_desc *dd, const float *dw,
                  const lm_net_desc *want, int k, lm_layer_desc *cl, int lcap, lm_net_desc *cd,
                  float *cw, size_t cap) {
    LM_CHECK(k >= 1 && k < want->n_layers, LM_EINVAL,
             "Net2Deeper: the genome's network differs from the donor's at layer %d", k);
    int src = k - 1;
    while (src > 0 && dd->layers[src].op != LM_OP_CONV && dd->layers[src].op != LM_OP_DENSE) src--;
    const lm_layer_desc *l = &want->layers[k];
    if (!(k + 1 < want->n_layers && want->layers[k + 1].op == LM_OP_BATCHNORM))
        return lm_net2deeper(dd, dw, src, l->kernel ? l->kernel : 1, cl, lcap, cd, cw, cap);
    int c = l->out_channels;
    LM_CHECK(c >= 1, LM_EINVAL, "Net2Deeper: the inserted layer has %d channels", c);
    float *mean = malloc(2 * (size_t)c * sizeof *mean);
    LM_CHECK_ALLOC(mean);
    int n = r->train->n < 2048 ? (int)r->train->n : 2048;
    int rc = lm_trainer_activation_stats(dt, dd, k - 1, n, mean, mean + c);
    if (rc == LM_OK)
        rc = lm_net2deeper_bn(dd, dw, src, l->kernel ? l->kernel : 1, mean, mean + c, cl, lcap,
                              cd, cw, cap);
    free(mean);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

static const char *morph_name(int kind) {
    return kind == LM_MORPH_WIDER      ? "Net2Wider"
           : kind == LM_MORPH_NARROWER ? "Net2Narrower"
           : kind == LM_MORPH_REMOVE   ? "the layer removal"
                                       : "Net2Deeper";
}

/* The inherited weights (weights, *n floats, malloc'd) of the network `want` (the
 * trial's genome's): the donor's network and weights from the snapshot, transformed. */
static int morphed_weights(lm_runner *r, const lm_config *c, const double *donor_hp,
                           const lm_morph *m, int donor, const void *snap, size_t len,
                           const lm_net_desc *want, float **weights, size_t *n) {
    lm_layer_desc *dl = NULL, *cl = NULL;
    lm_net_desc dd, cd;
    lm_trainer *dt = NULL;
    float *cw = NULL;
    int rc = arch_translate(r, c, donor_hp, &dl, &dd);
    if (rc == LM_OK)
        rc = lm_trainer_create_from_desc(&dd, &r->params, r->train, r->val, c->seed,
                                         (uint64_t)donor, &dt);
    if (rc == LM_OK) rc = lm_trainer_snapshot_load(dt, snap, len);
    size_t cap = lm_net_param_count(want);
    int lcap = want->n_layers + 8;
    if (rc == LM_OK) {
        cl = calloc((size_t)lcap, sizeof *cl);
        cw = malloc((cap ? cap : 1) * sizeof *cw);
        if (!cl || !cw) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    if (rc == LM_OK) {
        const float *dw;
        size_t dn;
        lm_trainer_weights(dt, &dw, &dn);
        int k = first_difference(&dd, want, 0);
        int width = k < want->n_layers ? want->layers[k].out_channels : 0;
        if (m->kind == LM_MORPH_WIDER) {
            lm_rng rng;
            lm_rng_init(&rng, c->seed, (uint64_t)r->trial_id, LM_STREAM_INIT);
            rc = lm_net2wider(&dd, dw, k, width, m->noise, &rng, cl, lcap, &cd, cw, cap);
        } else if (m->kind == LM_MORPH_NARROWER) {
            rc = lm_net2narrower(&dd, dw, k, width, cl, lcap, &cd, cw, cap);
        } else if (m->kind == LM_MORPH_REMOVE) {
            /* The donor's layers k .. k + count - 1 go.
             * They are the removed layer's, or the next one's when both are equal (the
             * same child either way). */
            rc = lm_net_remove_layers(&dd, dw, k, dd.n_layers - want->n_layers, cl, lcap, &cd,
                                      cw, cap);
        } else {
            rc = deepen(r, dt, &dd, dw, want, k, cl, lcap, &cd, cw, cap);
        }
    }
    if (rc == LM_OK) {
        int k = first_difference(&cd, want, m->kind == LM_MORPH_REMOVE);
        if (cd.n_layers != want->n_layers || k < want->n_layers)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                              "%s gives a network of %d layers that differs from the genome's "
                              "(%d layers) at layer %d",
                              morph_name(m->kind), cd.n_layers,
                              want->n_layers, k);
    }
    lm_trainer_destroy(&dt);
    free(dl);
    free(cl);
    if (rc < 0) {
        free(cw);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *weights = cw;
    *n = cap;
    return LM_OK;
}

int lm__runner_inherit(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                       const double *hp, int epochs, const lm_morph *morph, int donor,
                       const void *snap, size_t n) {
    LM_CALL(lm__runner_start(r, c, d, trial_id, hp, epochs));
    if (r->failed) return LM_OK;
    /* The child is a new model whose whole training is its `epochs`: its schedule (a
     * cosine, say) runs over them, not over training.epochs, or a child trained for a
     * third of them would stop at two thirds of the starting rate. */
    r->params.epochs = epochs;
    double donor_hp[LM_HP_MAX];
    lm_layer_desc *layers = NULL;
    lm_net_desc want;
    float *w = NULL;
    size_t nw = 0;
    int rc = c->has_arch ? LM_OK
                         : lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                                        "inheritance needs an architecture space (model.space)");
    if (rc == LM_OK) rc = undo_morph(c, hp, morph, donor_hp);
    if (rc == LM_OK) rc = arch_translate(r, c, hp, &layers, &want);
    if (rc == LM_OK) rc = morphed_weights(r, c, donor_hp, morph, donor, snap, n, &want, &w, &nw);
    if (rc == LM_OK) rc = lm_trainer_set_weights(r->trainer, w, nw);
    if (rc == LM_OK) rc = lm_trainer_set_params(r->trainer, &r->params);
    free(layers);
    free(w);
    if (rc < 0) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "could not inherit from trial %d: %s", donor,
                 lm_error_message());
        lm_error_clear();
    }
    return LM_OK;
}

void lm__runner_pause_test(lm_runner *r, lm_final *fin) {
    memset(fin, 0, sizeof *fin);
    fin->trial_id = r->trial_id;
    fin->test_loss = fin->test_accuracy = NAN;
    if (!r->trainer || r->failed || r->epoch < r->epochs_target || !r->test || r->test->n == 0)
        return;
    if (lm_trainer_evaluate(r->trainer, r->test, &fin->test_loss, &fin->test_accuracy) < 0) {
        lm_log_warn("trial %d: test evaluation failed: %s", r->trial_id, lm_error_message());
        lm_error_clear();
        fin->test_loss = fin->test_accuracy = NAN;
    }
}

int lm__runner_pause(lm_runner *r, void **snap, size_t *n, uint64_t *checksum) {
    LM_CHECK(r->trainer && !r->failed, LM_EINTERNAL, "pausing trial %d that has no model",
             r->trial_id);
    size_t size = lm_trainer_snapshot_size(r->trainer);
    void *buf = malloc(size);
    LM_CHECK_ALLOC(buf);
    int rc = lm_trainer_snapshot_save(r->trainer, buf, size);
    if (rc < 0) {
        free(buf);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    lm_trainer_destroy(&r->trainer);
    *snap = buf;
    *n = size;
    *checksum = lm_fnv1a64(LM_FNV1A64_INIT, buf, size);
    return LM_OK;
}

int lm__runner_epoch(lm_runner *r, lm_report *rep) {
    memset(rep, 0, sizeof *rep);
    rep->trial_id = r->trial_id;
    rep->epoch = r->epoch + 1;
    if (r->failed) {
        rep->failed = 1;
        lm_strlcpy(rep->reason, r->reason, sizeof rep->reason);
        rep->train_loss = rep->val_loss = rep->val_accuracy = rep->train_accuracy = NAN;
        return LM_OK;
    }
    lm_epoch_stats s;
    LM_CALL(lm_trainer_epoch(r->trainer, &s));
    r->epoch++;
    rep->epoch = r->epoch;
    rep->train_loss = s.train_loss;
    rep->train_accuracy = s.train_accuracy;
    rep->val_loss = s.val_loss;
    rep->val_accuracy = s.val_accuracy;
    rep->seconds = s.seconds;
    rep->lr = s.lr;
    rep->params = lm_trainer_param_count(r->trainer);
    rep->flops = lm_trainer_flops(r->trainer);
    /* Latency (an objective of multi-objective searches): the median of a few batch-1
     * forward passes, once per job; a failed measurement is reported as unknown. */
    if (isnan(r->latency) && !s.diverged && lm_trainer_latency(r->trainer, 1, 9, &r->latency) < 0) {
        lm_error_clear();
        r->latency = NAN;
    }
    rep->latency = r->latency;
    if (s.diverged || !isfinite(s.val_loss)) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "loss diverged (NaN or infinite) in epoch %d",
                 r->epoch);
        rep->failed = 1;
        lm_strlcpy(rep->reason, r->reason, sizeof rep->reason);
    }
    return LM_OK;
}

int lm__runner_finished(const lm_runner *r) { return r->failed || r->epoch >= r->epochs_target; }

int lm__runner_finish(lm_runner *r, lm_final *fin) {
    memset(fin, 0, sizeof *fin);
    fin->trial_id = r->trial_id;
    fin->test_loss = fin->test_accuracy = NAN;
    if (r->trainer && !r->failed && r->test && r->test->n > 0)
        LM_CALL(lm_trainer_evaluate(r->trainer, r->test, &fin->test_loss, &fin->test_accuracy));
    lm_trainer_destroy(&r->trainer);
    return LM_OK;
}
