<?php
// Worker mode:  torus --root examples/laravel/public --worker examples/laravel/public/worker.php
//
// Torus runs this script once per PHP executor. It creates and boots the
// application once (environment, configuration, service providers, routes),
// then serves every request through the HTTP kernel, as Laravel Octane does:
// a Request made from this request's superglobals, $kernel->handle(), send,
// $kernel->terminate(). It uses frankenphp_handle_request(), so the same
// script runs under FrankenPHP.
//
// The application outlives its requests, so what one request leaves in it
// must not reach the next: after each request this script resets what Octane
// resets, for the services the application has actually resolved:
//   - the session store's attributes and id (StartSession merges what the
//     store already holds with what it reads, so without this a client with
//     no cookie would inherit the previous client's session);
//   - cookies queued on the cookie jar;
//   - the authentication guards (and their resolved user);
//   - the locale and the configuration, when the request changed them;
//   - scoped container instances;
//   - the view factory's sections, stacks and render count;
//   - the database connections' query log and record-modification flag;
//   - the log channels' shared context.
// Torus itself resets PHP's superglobals, output layer, headers and uploaded
// files. What stays is what should: the container, the booted providers, the
// compiled routes, open database connections, and PHP statics.

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Http\Request;

require __DIR__ . '/../bootstrap/autoload.php';

/** @var \Illuminate\Foundation\Application $app */
$app = require __DIR__ . '/../bootstrap/app.php';

/** @var \Illuminate\Foundation\Http\Kernel $kernel */
$kernel = $app->make(Kernel::class);

try {
    // Load .env and the configuration, register and boot the providers: once.
    $kernel->bootstrap();

    // Resolve, once, the services every request uses.
    foreach (['config', 'cookie', 'db', 'encrypter', 'files', 'router', 'session', 'session.store',
              'translator', 'view'] as $service) {
        $app->make($service);
    }
} catch (Throwable $e) {
    // Laravel's exception handler would render a page for a request there
    // is not: log the cause instead, and let the server retry the worker.
    error_log('Laravel worker failed to boot: ' . $e);
    exit(1);
}

$config = $app->make('config');
$bootConfig = $config->all();
$bootLocale = $app->getLocale();

// The worker's own $_SERVER (FRANKENPHP_WORKER, TORUS_WORKER, the environment)
// is merged into each request's, as Symfony Runtime's FrankenPHP runner does:
// the server sets those in the worker script's scope, not in every request's.
$bootServer = array_filter($_SERVER, static fn (string $key): bool => !str_starts_with($key, 'HTTP_'),
    ARRAY_FILTER_USE_KEY);

$handle = static function () use ($kernel, $bootServer): void {
    $_SERVER += $bootServer;
    $request = Request::capture();
    $response = $kernel->handle($request);
    $response->send();
    $kernel->terminate($request, $response);
};

$reset = static function () use ($app, $config, &$bootConfig, $bootLocale): void {
    // The same array compares in O(1); only a changed configuration costs more.
    if ($config->all() !== $bootConfig) {
        foreach ($bootConfig as $key => $value) {
            $config->set($key, $value);
        }
        foreach (array_diff_key($config->all(), $bootConfig) as $key => $value) {
            $config->set($key, null);
        }
        $bootConfig = $config->all();
    }
    if ($app->getLocale() !== $bootLocale) {
        $app->setLocale($bootLocale);
    }
    if ($app->resolved('session')) {
        $store = $app->make('session')->driver();
        $store->flush();
        $store->regenerate();
    }
    if ($app->resolved('cookie')) {
        $app->make('cookie')->flushQueuedCookies();
    }
    if ($app->resolved('auth.driver')) {
        $app->forgetInstance('auth.driver');
    }
    if ($app->resolved('auth')) {
        $app->make('auth')->forgetGuards();
    }
    if ($app->resolved('view')) {
        $app->make('view')->flushState();
    }
    if ($app->resolved('db')) {
        foreach ($app->make('db')->getConnections() as $connection) {
            $connection->flushQueryLog();
            $connection->forgetRecordModificationState();
        }
    }
    if ($app->resolved('log')) {
        foreach ($app->make('log')->getChannels() as $channel) {
            if ($channel instanceof \Illuminate\Log\Logger) {
                $channel->withoutContext();
            }
        }
    }
    $app->forgetScopedInstances();
};

$handler = static function () use ($handle, $reset): void {
    try {
        $handle();
    } finally {
        $reset();
    }
};

while (frankenphp_handle_request($handler)) {
}
