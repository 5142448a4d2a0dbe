<?php
// The demo page of `make run`: classic mode runs this file per request;
// worker mode (examples/hello/worker.php) serves the same page from a
// persistent worker.
$name = htmlspecialchars($_GET['name'] ?? 'world', ENT_QUOTES);
header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<html>
<head><title>Torus</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Hello, <?= $name ?>!</h1>
<p>Served by <?= htmlspecialchars($_SERVER['SERVER_SOFTWARE'] ?? 'Torus') ?>
   with PHP <?= PHP_VERSION ?><?= PHP_ZTS ? ' (ZTS)' : '' ?>,
   <?= isset($_SERVER['TORUS_WORKER']) ? 'worker' : 'classic' ?> mode,
   opcache <?= function_exists('opcache_get_status') && (opcache_get_status(false)['opcache_enabled'] ?? false) ? 'on' : 'off' ?>.</p>
<p>Try <a href="/?name=Torus">/?name=Torus</a> or <a href="/hello.txt">a static file</a>.</p>
</body>
</html>
