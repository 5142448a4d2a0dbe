<?php
// Class loading without Composer: Debian's php-laravel-framework package
// installs the framework under /usr/share/php with its own autoloaders, which
// find their dependencies through include_path; the application's own
// classes (namespace App\) are loaded from app/ by the PSR-4 rule below.

if (!in_array('/usr/share/php', explode(PATH_SEPARATOR, get_include_path()), true)) {
    set_include_path(get_include_path() . PATH_SEPARATOR . '/usr/share/php');
}

require_once '/usr/share/php/Illuminate/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = dirname(__DIR__) . '/app/' . str_replace('\\', '/', substr($class, 4)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
