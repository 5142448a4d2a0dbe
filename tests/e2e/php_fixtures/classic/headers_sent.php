<?php
// headers_sent() is false while the output sits in a buffer, true once it has been flushed.
ob_start();
echo "x";
$buffered = headers_sent();
ob_end_flush(); // line 6: the output reaches the server, and the headers with it
$after = headers_sent($file, $line);
echo ' buffered=' . var_export($buffered, true) . ' after=' . var_export($after, true)
    . ' where=' . basename($file) . ':' . $line;
