// bench/main.cc: shared main() for every bench_<primitive> program. Adds the
// CPU model and the ipsec-mb path to the benchmark context, so every JSON
// result under bench/results/ names the hardware it ran on.
#include <benchmark/benchmark.h>

#include "kernels/cpu.h"

int main(int argc, char** argv) {
  namespace k = layercrypt::kernels;
  benchmark::AddCustomContext("cpu_model", k::cpu_model_name());
  benchmark::AddCustomContext("ipsec_mb_auto_arch",
                              k::imb_manager_arch_name(k::imb_manager(k::ImbTier::kAuto)));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
