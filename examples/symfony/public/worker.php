<?php
// Worker mode:  torus --root examples/symfony/public --worker examples/symfony/public/worker.php
//
// Torus runs this script once per PHP executor. It boots the kernel once
// (the compiled container, the router, Twig), then serves each request the
// way Symfony Runtime's FrankenPHP runner does: a Request made from this
// request's superglobals, $kernel->handle(), send, $kernel->terminate().
// It uses frankenphp_handle_request(), so it runs under FrankenPHP as well.
//
// Between two requests the container's resettable services (those tagged
// kernel.reset: Twig's globals, loggers, caches, the translator...) are
// reset through the services_resetter, so no request sees another's state.
// The kernel would do it itself at the start of the next request; this
// script has it done at the end of each one instead, so nothing a request
// held stays alive while the worker waits. Torus itself resets PHP's
// superglobals, output layer, headers and uploaded files.

use App\Kernel;
use Symfony\Component\HttpFoundation\Request;

require __DIR__ . '/../bootstrap.php';

$kernel = new Kernel(symfony_example_env('APP_ENV', 'prod'), (bool) symfony_example_env('APP_DEBUG', '0'));

try {
    $kernel->boot();
} catch (Throwable $e) {
    error_log('Symfony worker failed to boot: ' . $e);
    exit(1);
}

// The worker's own $_SERVER (FRANKENPHP_WORKER, TORUS_WORKER, the environment)
// is merged into each request's, as Symfony Runtime's FrankenPHP runner does:
// the server sets those in the worker script's scope, not in every request's.
$bootServer = array_filter($_SERVER, static fn (string $key): bool => !str_starts_with($key, 'HTTP_'),
    ARRAY_FILTER_USE_KEY);

$handler = static function () use ($kernel, $bootServer): void {
    $_SERVER += $bootServer;
    $request = Request::createFromGlobals();
    $response = $kernel->handle($request);
    $response->send();
    $kernel->terminate($request, $response);
};

// On a kernel that is booted and has handled a request, boot() only runs
// the services_resetter (once: the kernel clears its "must reset" flag).
$resetServices = static function () use ($kernel): void {
    $kernel->boot();
};

while (frankenphp_handle_request(static function () use ($handler, $resetServices): void {
    try {
        $handler();
    } finally {
        $resetServices();
    }
})) {
    gc_collect_cycles();
}
