/* Monotonic wall time and process CPU time, in seconds. */
#ifndef LAMARCK_TIMER_H
#define LAMARCK_TIMER_H

double lm_time_now(void);      /* monotonic wall clock */
double lm_time_cpu(void);      /* CPU time used by this process */
void lm_time_sleep(double seconds);

#endif
