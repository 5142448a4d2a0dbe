<?php
// Classic mode (Torus without --worker, or PHP-FPM): this front controller
// runs for every request; the compiled container comes from var/cache.

use App\Kernel;
use Symfony\Component\HttpFoundation\Request;

require __DIR__ . '/../bootstrap.php';

$kernel = new Kernel(symfony_example_env('APP_ENV', 'prod'), (bool) symfony_example_env('APP_DEBUG', '0'));
$request = Request::createFromGlobals();
$response = $kernel->handle($request);
$response->send();
$kernel->terminate($request, $response);
