# bench/bench_lib.sh: what the fixed-cost bench scripts share (sourced, not
# run). A script fills two arrays, kinds[] (labels) and cmds[] (a command
# line each, split on blanks and run by its run_kind), then:
#   bench_rounds RUNS FILE       runs every kind once per round, the kinds
#                                interleaved so a shared host's drift hits all
#                                of them alike, appending "ROUND KIND MS"
#                                lines (wall time) to FILE;
#   bench_summary TITLE FILE PAIRS
#                                prints FILE's table: one row per kind, the
#                                median, 10th-90th percentile and fastest,
#                                then for each "I:J:LABEL" in PAIRS (";"
#                                between them) kind I minus kind J in the same
#                                round;
#   bench_task_clock_ms CMD...   CMD's CPU time in ms (perf stat task-clock:
#                                every thread's time on a CPU, not the time
#                                spent waiting for one), stdin and fd 3 as the
#                                caller redirects them; bench_perf_usable says
#                                whether perf can count it here;
#   bench_instructions_millions CMD...
#                                CMD's instructions in millions: perf stat's
#                                counter when the CPU exposes it
#                                (bench_perf_instructions_usable), else
#                                valgrind's callgrind (threads serialised);
#                                unlike time, a count a busy host does not
#                                change;
#   bench_cpu                    one line naming the CPU (lscpu) and the
#                                load average.
# Needs $py (python3) set by the sourcing script.

bench_rounds() {
  local runs=$1 out=$2 r i a b
  for r in $(seq "$runs"); do
    for i in "${!kinds[@]}"; do
      a=$EPOCHREALTIME; run_kind "$i" >/dev/null; b=$EPOCHREALTIME
      echo "$r $i $(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 1000 }')" >>"$out"
    done
  done
}

bench_summary() {
  "$py" - "$@" "${kinds[@]}" <<'EOF'
import sys
title, path, pairs, labels = sys.argv[1], sys.argv[2], sys.argv[3].split(";"), sys.argv[4:]
by_kind, by_round = {}, {}
for line in open(path):
    r, k, ms = line.split()
    by_kind.setdefault(int(k), []).append(float(ms))
    by_round.setdefault(int(r), {})[int(k)] = float(ms)
def stats(v):
    v = sorted(v)
    q = lambda f: v[min(len(v) - 1, int(f * len(v)))]
    return f"{q(0.5):7.2f} {q(0.1):7.2f}-{q(0.9):<7.2f} {v[0]:7.2f}"
n = max(len(v) for v in by_kind.values())
print(f"{title:<46} {'median':>7} {'p10-p90':>15} {'fastest':>7}  (ms, {n} interleaved rounds)")
for k in sorted(by_kind):
    print(f"{labels[k]:<46} {stats(by_kind[k])}")
for pair in filter(None, pairs):
    i, j, label = pair.split(":", 2)
    d = [rd[int(i)] - rd[int(j)] for rd in by_round.values() if int(i) in rd and int(j) in rd]
    print(f"{'  ' + label:<46} {stats(d)}")
EOF
}

bench_perf_usable() { perf stat -x, -e task-clock -o /dev/null /bin/true 2>/dev/null; }

bench_perf_instructions_usable() {
  perf stat -x, -e instructions -o /dev/stdout /bin/true 2>/dev/null | grep -q '^[0-9]'
}

bench_task_clock_ms() {
  local f
  f=$(mktemp)
  perf stat -x, -e task-clock -o "$f" -- "$@" >/dev/null
  awk -F, '/task-clock/ { print $1 }' "$f"
  rm -f "$f"
}

bench_instructions_millions() {
  local f
  if bench_perf_instructions_usable; then
    f=$(mktemp)
    perf stat -x, -e instructions -o "$f" -- "$@" >/dev/null
    awk -F, '/instructions/ { print $1 / 1e6 }' "$f"
    rm -f "$f"
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      awk '/Collected :/ { print $NF / 1e6 }'
  fi
}

bench_cpu() {
  echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) threads; load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
