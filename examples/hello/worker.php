<?php
// The worker script of the demo app:
//   torus --root examples/hello --worker examples/hello/worker.php
// runs it once per PHP executor. What is above the loop happens once; each
// request then renders the same page as classic mode, from the same
// index.php, and the X-Worker-Requests header tells how many requests this
// worker has served (a static, so it survives between requests).

function hello_worker_served(): int
{
    static $served = 0;
    return ++$served;
}

$page = __DIR__ . '/index.php';

// The worker's own $_SERVER (FRANKENPHP_WORKER, TORUS_WORKER, the environment)
// is merged into each request's, as Symfony Runtime's FrankenPHP runner does:
// the server sets those in the worker script's scope, not in every request's.
$bootServer = array_filter($_SERVER, static fn (string $key): bool => !str_starts_with($key, 'HTTP_'),
    ARRAY_FILTER_USE_KEY);

$handler = static function () use ($page, $bootServer): void {
    $_SERVER += $bootServer;
    header('X-Worker-Requests: ' . hello_worker_served());
    include $page;
};

// FrankenPHP's name works too: frankenphp_handle_request() is the same function.
while (torus_handle_request($handler)) {
}
