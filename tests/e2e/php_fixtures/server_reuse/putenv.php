<?php
// putenv() before $_SERVER is first used: with auto_globals_jit (register_argc_argv off),
// $_SERVER is made when late_server.php is compiled, and holds the variable (as PHP-FPM).
putenv('TORUS_E2E_LATE=set-by-putenv');
include __DIR__ . '/late_server.php';
