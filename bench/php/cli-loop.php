<?php
/*
 * The `php-cli` reference row: the scenario's PHP code run in a loop by the
 * php CLI, with no server around it, so its iterations per second are the
 * interpreter's own limit for that code. Each iteration does what the worker
 * does per request (bench/php/worker.php): dispatch on the path with the
 * output buffered and thrown away, then gc_collect_cycles().
 *
 *   php cli-loop.php PATH SECONDS
 *
 * Prints one line: "iterations N seconds S p50_us X p99_us Y".
 */

declare(strict_types=1);

require_once __DIR__ . '/scenarios.php';

if ($argc < 3) {
    fwrite(STDERR, "usage: php cli-loop.php PATH SECONDS\n");
    exit(2);
}
$path = $argv[1];
$seconds = (float)$argv[2];
$_SERVER['REQUEST_URI'] = $path;
$_SERVER['REQUEST_METHOD'] = 'GET';

$latencies = [];
$start = hrtime(true);
$deadline = $start + (int)($seconds * 1e9);
$iterations = 0;
do {
    $t0 = hrtime(true);
    ob_start();
    bench_dispatch($path);
    ob_end_clean();
    gc_collect_cycles();
    $t1 = hrtime(true);
    if (($iterations & 15) === 0) {
        $latencies[] = $t1 - $t0; // a sample of 1 in 16 keeps the array small
    }
    $iterations++;
} while ($t1 < $deadline);

sort($latencies);
$n = count($latencies);
printf("iterations %d seconds %.6f p50_us %.2f p99_us %.2f\n", $iterations, ($t1 - $start) / 1e9,
       $latencies[intdiv($n, 2)] / 1e3, $latencies[min($n - 1, intdiv($n * 99, 100))] / 1e3);
