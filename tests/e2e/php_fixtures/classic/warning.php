<?php
echo "start\n";
echo $undefined_variable;
echo "end\n";
