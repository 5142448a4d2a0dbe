<?php
// Creates the application: the container, with the HTTP kernel, the console
// kernel and the exception handler bound. Shared by public/index.php (once
// per request, classic mode) and public/worker.php (once per worker).

use Illuminate\Support\Env;

$app = new Illuminate\Foundation\Application(dirname(__DIR__));

// storage/ by default; APP_STORAGE moves it (the tests use a temporary one).
$storage = $_SERVER['APP_STORAGE'] ?? getenv('APP_STORAGE');
if (is_string($storage) && $storage !== '') {
    $app->useStoragePath($storage);
}

// Under Torus every executor is a thread of one process, and the process has
// one environment: .env values go to $_ENV and $_SERVER only, not putenv().
Env::disablePutenv();

$app->singleton(Illuminate\Contracts\Http\Kernel::class, App\Http\Kernel::class);
$app->singleton(Illuminate\Contracts\Console\Kernel::class, Illuminate\Foundation\Console\Kernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, App\Exceptions\Handler::class);

return $app;
