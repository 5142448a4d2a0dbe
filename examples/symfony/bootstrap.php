<?php
// Class loading without Composer: Debian's php-symfony-* and php-twig
// packages install under /usr/share/php with their own autoloaders; the
// application's classes (namespace App\) are loaded from src/.

if (!in_array('/usr/share/php', explode(PATH_SEPARATOR, get_include_path()), true)) {
    set_include_path(get_include_path() . PATH_SEPARATOR . '/usr/share/php');
}

require_once '/usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php';
require_once '/usr/share/php/Symfony/Bundle/TwigBundle/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 4)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

/** An environment variable: from $_SERVER (or $_ENV), else the process environment. */
function symfony_example_env(string $name, ?string $default = null): ?string
{
    $value = $_SERVER[$name] ?? $_ENV[$name] ?? getenv($name);
    return is_string($value) && $value !== '' ? $value : $default;
}
