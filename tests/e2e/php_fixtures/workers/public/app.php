<?php
// The front-controller worker: the requests for "/" and for paths no file answers.
$defaultName = 'front';
require __DIR__ . '/../lib/worker.php';
