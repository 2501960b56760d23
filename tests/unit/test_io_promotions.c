/* results.h5 of a multi-fidelity run: /trials/bracket, /trials/rung and the /promotions
 * columns (with units and description attributes) match the trial table of a Hyperband run
 * through the fake controller, and a run without rungs writes them empty or -1.
 *
 * With LAMARCK_TEST_RESULTS_OUT=path the Hyperband file is also written there and
 * kept (for trying analysis/plot_hyperband.py on it). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir, unlink */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/h5util.h"
#include "lamarck/io.h"
#include "search_mf_sim.h"

#include <unistd.h>

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_promotions_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/results.h5", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

static void read_ints(lm__h5 *f, hid_t g, const char *name, size_t want, int32_t **out) {
    size_t n = 0;
    void *v = NULL;
    if (lm__h5_read_1d(f, g, name, LM_DT_I32, 1 << 24, &v, &n) != LM_OK)
        fail_msg("%s: %s", name, lm_error_message());
    assert_int_equal(n, want);
    *out = v;
}

/* The dataset has non-empty units and description attributes. */
static void has_meta(lm__h5 *f, hid_t g, const char *name) {
    int rank;
    hsize_t dims[1];
    hid_t d = H5I_INVALID_HID;
    assert_int_equal(lm__h5_dataset_open(f, g, name, 1, &rank, dims, 1 << 24, &d), LM_OK);
    char *units = NULL, *desc = NULL;
    assert_int_equal(lm__h5_attr_read_str(f, d, "units", 256, &units), LM_OK);
    assert_int_equal(lm__h5_attr_read_str(f, d, "description", 1024, &desc), LM_OK);
    if (!(strlen(units) > 0 && strlen(desc) > 10))
        fail_msg("%s: units '%s' description '%s'", name, units, desc);
    free(units);
    free(desc);
    lm__h5_close_id(&d);
}

static void write_and_check(const lm_trials *t, lm_space *sp, const char *path) {
    lm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "inputs/hyperband.yaml";
    cfg.text = "search: {algorithm: hyperband}\n";
    cfg.text_len = strlen(cfg.text);
    cfg.space = sp;
    lm_run_info info = {.config = &cfg, .command_line = "lamarck run inputs/hyperband.yaml", .version = "0.1.0", .n_ranks = 4,
                        .wall_seconds = 100.0, .rank0_cpu_seconds = 1.0, .complete = 1};
    if (lm_io_results_write(path, &info, t) != LM_OK) fail_msg("write: %s", lm_error_message());

    lm__h5 f;
    assert_int_equal(lm__h5_open(&f, path, LM_EDATA), LM_OK);
    hid_t g = H5I_INVALID_HID, p = H5I_INVALID_HID;
    assert_int_equal(lm__h5_group_open(&f, f.id, "trials", &g), LM_OK);
    int32_t *bracket, *rung;
    read_ints(&f, g, "bracket", (size_t)t->n, &bracket);
    read_ints(&f, g, "rung", (size_t)t->n, &rung);
    for (int i = 0; i < t->n; i++) {
        assert_int_equal(bracket[i], t->v[i].bracket);
        assert_int_equal(rung[i], t->v[i].rung);
    }
    has_meta(&f, g, "bracket");
    has_meta(&f, g, "rung");
    free(bracket);
    free(rung);

    assert_int_equal(lm__h5_group_open(&f, f.id, "promotions", &p), LM_OK);
    size_t n = t->n_promotions;
    int32_t *trial, *pb, *from, *to, *epoch;
    read_ints(&f, p, "trial", n, &trial);
    read_ints(&f, p, "bracket", n, &pb);
    read_ints(&f, p, "from_rung", n, &from);
    read_ints(&f, p, "to_rung", n, &to);
    read_ints(&f, p, "epoch", n, &epoch);
    size_t nt = 0;
    double *tt = NULL;
    assert_int_equal(lm__h5_read_1d(&f, p, "t", LM_DT_F64, 1 << 24, (void **)&tt, &nt), LM_OK);
    assert_int_equal(nt, n);
    for (size_t k = 0; k < n; k++) {
        const lm_promotion *q = &t->promotions[k];
        assert_int_equal(trial[k], q->trial_id);
        assert_int_equal(pb[k], q->bracket);
        assert_int_equal(from[k], q->from_rung);
        assert_int_equal(to[k], q->to_rung);
        assert_int_equal(epoch[k], q->epoch);
        assert_true(tt[k] == q->t);
    }
    const char *cols[] = {"t", "trial", "bracket", "from_rung", "to_rung", "epoch"};
    for (int c = 0; c < 6; c++) has_meta(&f, p, cols[c]);
    free(trial);
    free(pb);
    free(from);
    free(to);
    free(epoch);
    free(tt);
    lm__h5_close_id(&p);
    lm__h5_close_id(&g);
    lm__h5_close(&f);

    /* lamarck report's reader still reads the file, paused status and all. */
    lm_results res;
    if (lm_io_results_read(path, &res) != LM_OK) fail_msg("read: %s", lm_error_message());
    assert_int_equal(res.n_trials, t->n);
    lm_io_results_free(&res);
}

static void test_hyperband_results(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    lm_options o = {0};
    sim m;
    sim_init(&m, sim_searcher("hyperband", sp, 1, 0, 27, &o), 2, 4, 9);
    m.fail_mod = 13;
    m.fail_rem = 4;
    m.fail_epoch = 1;
    sim_run(&m, 1 << 30);
    assert_true(m.done);
    assert_true(m.t.n_promotions > 10);
    char path[300];
    snprintf(path, sizeof path, "%s/results.h5", tmpdir);
    write_and_check(&m.t, sp, path);
    const char *keep = getenv("LAMARCK_TEST_RESULTS_OUT");
    if (keep && *keep) write_and_check(&m.t, sp, keep);

    /* Mid-run: paused trials and pending promotions are written as they stand. */
    sim mid;
    sim_init(&mid, sim_searcher("hyperband", sp, 1, 0, 27, &o), 2, 4, 9);
    sim_run(&mid, 150);
    assert_true(lm_trials_count(&mid.t, LM_TRIAL_PAUSED) > 0);
    write_and_check(&mid.t, sp, path);
    sim_fini(&mid);
    sim_fini(&m);
    lm_space_destroy(&sp);
}

static void test_no_rungs(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    sim m;
    sim_init(&m, sim_searcher("random", sp, 1, 5, 3, NULL), 2, 2, 9);
    sim_run(&m, 1 << 30);
    assert_int_equal(m.t.n, 5);
    assert_int_equal(m.t.n_promotions, 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m.t.v[i].bracket, -1);
        assert_int_equal(m.t.v[i].rung, -1);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/results.h5", tmpdir);
    write_and_check(&m.t, sp, path);
    sim_fini(&m);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hyperband_results),
        cmocka_unit_test(test_no_rungs),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
