<?php
// The classic-mode twin of behave.php: /classic.php/<case>.
require __DIR__ . '/../lib/behaviours.php';
$handler = null;
behave(trim((string) ($_SERVER['PATH_INFO'] ?? ''), '/'), $handler);
