<?php
// A worker that answers with what its requests see (lib/who.php). $defaultName:
// its name when the server gives it no WORKER_NAME (env=WORKER_NAME=...).
require __DIR__ . '/who.php';
$boot = ['WORKER_NAME' => getenv('WORKER_NAME') ?: $defaultName,
         'FRANKENPHP_WORKER' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
         'TORUS_WORKER' => $_SERVER['TORUS_WORKER'] ?? null];
$served = 0;
$handler = static function () use ($boot, &$served): void {
    echo who($boot, ++$served);
};
require __DIR__ . '/loop.php';
