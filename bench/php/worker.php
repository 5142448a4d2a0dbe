<?php
/*
 * Worker mode: booted once per executor, then serves every scenario from one
 * request loop, dispatching on the request path. Written against the
 * FrankenPHP API, so the same file runs under Torus (torus_handle_request)
 * and FrankenPHP (frankenphp_handle_request).
 */

declare(strict_types=1);

require_once __DIR__ . '/scenarios.php';

$handle_request = function_exists('torus_handle_request') ? 'torus_handle_request' : 'frankenphp_handle_request';

$handler = static function (): void {
    $path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
    bench_dispatch(is_string($path) ? $path : '/');
};

while ($handle_request($handler)) {
    gc_collect_cycles();
}
